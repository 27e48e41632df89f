# The console's `m` against a real rig (test_rig's: the session pool emulator
# and the rig bus, a ducorig slave at 0x08 and a yaum one at 0x0b) on both
# runtimes: its lines, their numbers plausible, and why a poll is not timed.
# mpunit: heapsize=512k
import asyncio
import gc
import sys

from ducorig.console import Console
from test_rig import make_rig, until


class FakeEsp:
    """The chip's esp module, for esp.freemem() (the SDK heap)."""

    def freemem(self):
        return 21000


async def m(con, keys=b"m"):
    """Type keys ending in m; its lines, without their newlines."""
    out = con.rig.out.lines
    n = len(out)
    for c in keys:
        await con.key(c)
    lines = [line.rstrip("\n") for line in out[n:]]
    return lines[-5:]


def number(line, before, after):
    """The integer between before and after in line."""
    assert line.startswith(before) and line.endswith(after), line
    return int(line[len(before):len(line) - len(after)])


async def test_m_reports_heaps_sockets_poll_and_write_time_and_loop_lag():
    r = make_rig("console-m", slaves=(8, 11))
    con = Console(r)
    # Before the start: nothing identified, no socket open.
    lines = await m(con)
    assert lines[1] == "SDK heap (lwIP): n/a on this port; 0 pool sockets open"
    assert lines[2] == "slave 0 (0x08) status poll: not timed, the slave is not identified yet"
    task = asyncio.create_task(r.run())
    try:
        await until(lambda: all(s.accepted >= 1 for s in r.stats.slaves), "first shares")
        for c in b"#p":  # held, each worker's last job write stays what m shows
            await con.key(c)
        await until(lambda: r.held == 2, "held")
        lines = await m(con)
        sys.modules["esp"] = FakeEsp()
        try:
            sdk = (await m(con, b"1#m"))[1]
        finally:
            del sys.modules["esp"]
    finally:
        r.stop()
        await task
    if hasattr(gc, "mem_free"):  # MicroPython
        assert 0 < number(lines[0], "heap: ", " B free after gc.collect()") < 512 * 1024
    else:
        assert lines[0] == "heap: n/a on this port"
    assert lines[1] == "SDK heap (lwIP): n/a on this port; 2 pool sockets open"
    assert number(lines[2], "slave 0 (0x08) status poll: ", " us") > 0  # one read over the bus server's socket
    assert 0 < number(lines[3], "slave 0 (0x08) job write: ", " us") == r.workers[0].write_us
    assert number(lines[4], "loop lag: ", " ms at worst over the last minute") >= 0
    assert sdk == "SDK heap (lwIP): 21000 B free; 2 pool sockets open"
    assert r.out.lines[-3] == "slave 1 (0x0b) status poll: not timed, yaum polls by a write and a read\n"
