# `ng` against a real mining rig (test_rig's: the session pool emulator and
# the rig bus) on both runtimes: typed while a slave mines, it gives exactly
# n more shares, the one in flight being the first; and X on its yaum slave
# sends nothing and says why.
# mpunit: heapsize=512k
import asyncio

from ducorig.console import Console
from test_rig import make_rig, until


async def test_5g_while_mining_gives_exactly_5_shares():
    r = make_rig("console-5g", slaves=(8, 11))  # a ducorig and a yaum slave
    con = Console(r)
    counts = []
    resume = r.resume

    def counted(workers, quota=None):  # the accepted counts when g acts (on one worker, then the other)
        counts.append([s.accepted for s in r.stats.slaves])
        resume(workers, quota)

    r.resume = counted
    task = asyncio.create_task(r.run())
    try:
        await until(lambda: all(s.accepted >= 1 for s in r.stats.slaves), "first shares")
        await con.command("5g")
        await until(lambda: r.held == 2, "both paused after their 5 shares")
        assert [s.accepted for s in r.stats.slaves] == [c + 5 for c in counts[0]], (counts, r.out.lines)
        assert [s.lost for s in r.stats.slaves] == [{}, {}] and [s.rejected for s in r.stats.slaves] == [{}, {}]
        await con.command("1#X")
        assert r.out.lines[-1] == "1 s11: yaum has no reset command (power-cycle it); nothing sent\n"
    finally:
        r.stop()
        await task
