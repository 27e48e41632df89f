# The rig on both runtimes: one task per slave against the session pool
# emulator (DUCORIG_POOL) and the rig bus (DUCORIG_RIG_BUS: ducorig slaves at 0x08-0x0a,
# yaum at 0x0b). Assertions count shares and states; the deadline in run_until
# is only a safety net that turns a hang into a failure.
# mpunit: heapsize=512k
import asyncio
import os

from ducorig import config, rig as rigmod, worker as workermod
from ducorig.simi2c import SimI2C
from ducorig.ticks import ticks_diff, ticks_ms

SAFETY_MS = 60000


class Out:
    def __init__(self):
        self.lines = []

    def write(self, text):
        self.lines.append(text)


def make_rig(user, slaves=(8, 9, 10, 11), ready=False, pool_env="DUCORIG_POOL", **extra):
    for addr in (8, 9, 10, 11):  # no fault left over from an earlier test
        control(addr, "factory")
    host, port = os.getenv(pool_env).split(":")
    data = {"user": user, "pool": {"host": host, "port": int(port)}, "stagger_ms": 20,
            "i2c": {"sim": os.getenv("DUCORIG_RIG_BUS"), "ready_pin": 14 if ready else None},
            "slaves": [{"address": a, "name": "s%d" % a} for a in slaves]}
    data.update(extra)
    cfg = config.parse(data)
    i2c, line, recover = rigmod.make_i2c(cfg)
    return rigmod.Rig(cfg, i2c, line, recover, Out())


async def run_until(rig, done, task=None):
    """Run the rig (or await its running task) until done(slaves), then stop it."""
    task = task or asyncio.create_task(rig.run())
    start = ticks_ms()
    try:
        while not done(rig.stats.slaves):
            assert ticks_diff(ticks_ms(), start) < SAFETY_MS, [s.as_dict() for s in rig.stats.slaves]
            await asyncio.sleep(0.05)
    finally:
        rig.stop()
        await task
    return rig.stats.slaves


def control(addr, name, value=1):
    SimI2C(os.getenv("DUCORIG_RIG_BUS")).sim_control(addr, name, value)


async def test_every_slave_mines_in_its_own_task():
    r = make_rig("rig-mines")
    slaves = await run_until(r, lambda ss: all(s.accepted >= 3 for s in ss))
    assert [s.protocol for s in slaves] == ["ducorig", "ducorig", "ducorig", "yaum"]
    assert len(set(s.ducoid for s in slaves)) == 4
    for s in slaves:
        assert s.rejected == {} and s.lost == {} and s.errors == {}, (s.as_dict(), r.out.lines)
        assert s.phase(2)[0] >= 3 and s.hashrate() > 0


async def test_an_unplugged_slave_does_not_stall_the_others():
    r = make_rig("rig-unplugged")
    control(9, "unplugged", 1)
    slaves = await run_until(r, lambda ss: ss[0].accepted >= 3 and ss[2].accepted >= 3)
    assert slaves[1].accepted == 0
    assert slaves[1].errors.get("bus: absent", 0) >= 1
    assert len([line for line in r.out.lines if "bus: absent" in line]) == 1  # logged once, not a flood


async def test_a_garbled_result_is_reread_and_the_share_still_counts():
    r = make_rig("rig-garble", slaves=(8,))
    control(8, "garble_result", 2)
    slaves = await run_until(r, lambda ss: ss[0].accepted >= 2)
    assert slaves[0].lost == {} and slaves[0].rejected == {}


async def test_a_reset_mid_job_resends_the_job():
    r = make_rig("rig-reset", slaves=(8,))
    control(8, "reset_after", 5)
    slaves = await run_until(r, lambda ss: ss[0].accepted >= 2)
    assert slaves[0].errors.get("reset", 0) + slaves[0].errors.get("bus: absent", 0) >= 1
    assert slaves[0].lost == {}


async def test_a_hung_slave_is_reset_and_mines_again():
    await hung_slave_is_reset(make_rig("rig-hung", slaves=(10,)))


async def test_a_hung_slave_is_reset_with_the_ready_line_too():
    # it never pulls the line: the watcher wakes its worker past the job's limit
    await hung_slave_is_reset(make_rig("rig-hung-ready", slaves=(10,), ready=True))


async def hung_slave_is_reset(r):
    control(10, "hung", 1)
    task = asyncio.create_task(r.run())
    start = ticks_ms()
    s = r.stats.slaves[0]
    try:
        while not s.errors:  # the worker gives up on the job and resets the slave
            assert ticks_diff(ticks_ms(), start) < SAFETY_MS
            await asyncio.sleep(0.05)
        control(10, "hung", 0)
        while s.accepted < 2:
            assert ticks_diff(ticks_ms(), start) < SAFETY_MS, s.as_dict()
            await asyncio.sleep(0.05)
    finally:
        r.stop()
        await task
    assert s.errors.get("slave: failed", 0) >= 1 and s.lost.get("slave failed", 0) >= 1
    assert s.rejected == {}  # the abandoned job's wrong answer is booked as lost, not rejected


async def test_a_stalled_pool_is_bounded_by_the_rigs_sweep():
    # no wait_for per exchange: the housekeeping's sweep cancels the exchange
    # past its deadline (the emulator stalls this user's answers for 5 s)
    r = make_rig("fault-stall", slaves=(8,), pool_timeout_ms=500)
    task = asyncio.create_task(r.run())
    s = r.stats.slaves[0]
    try:
        await until(lambda: s.errors.get("pool: timeout", 0) >= 2, "timeouts")
    finally:
        r.stop()
        await task
    assert s.accepted == 0 and s.lost == {}


async def test_a_stop_while_the_pool_answers_counts_no_timeout():
    # Stopped while every worker waits for the pool's answer (the emulator
    # holds this user's jobs back for 5 s, the timeout is 10 s): no exchange
    # ran out, and none may be counted as a timeout (rig.close cleared the
    # deadlines before the cancelled exchanges looked at them; a full CI run
    # saw a "pool: timeout" this way, stop 20)
    r = make_rig("fault-stall", slaves=(8, 9))
    task = asyncio.create_task(r.run())
    try:
        await until(lambda: all(w.client.writer is not None and w.client.deadline is not None
                                for w in r.workers), "waiting for a job")
    finally:
        r.stop()
        await task
    assert [(s.errors, s.lost) for s in r.stats.slaves] == [({}, {}), ({}, {})], r.out.lines


async def test_pool_bads_are_counted_by_reason_and_mining_goes_on():
    slaves = await run_until(make_rig("fault-bad", slaves=(8, 9)),
                             lambda ss: all(sum(s.rejected.values()) >= 3 for s in ss))
    for s in slaves:
        assert s.last_bad == "Burst of BADs" and s.lost == {}


async def test_ready_line_polls_only_when_a_slave_is_done():
    slaves = await run_until(make_rig("rig-ready", slaves=(8, 9, 10), ready=True),
                             lambda ss: all(s.accepted >= 4 for s in ss))
    # Each result costs at most one poll of every hashing slave (the watcher
    # asks the longest-hashing first); polling alone needs dozens per share.
    accepted = sum(s.accepted for s in slaves)
    assert sum(s.polls for s in slaves) <= len(slaves) * (accepted + 1), [s.as_dict() for s in slaves]


async def test_the_ready_line_watcher_survives_its_errors():
    # It wakes every worker: one MemoryError in a fragmented heap must not end it.
    r = make_rig("rig-ready-error", slaves=(8, 9), ready=True)
    fell = r.watcher.line.fell
    failures = [MemoryError("memory allocation failed"), MemoryError("again"), OSError(5)]

    async def flaky():
        if failures:
            raise failures.pop(0)
        await fell()

    r.watcher.line.fell = flaky
    slaves = await run_until(r, lambda ss: all(s.accepted >= 3 for s in ss))
    assert failures == [] and all(s.lost == {} for s in slaves)
    logged = [line for line in r.out.lines if line.startswith("ready line: ")]
    assert len(logged) == 2 and "MemoryError" in logged[0] and "OSError" in logged[1], r.out.lines


async def until(cond, what):
    start = ticks_ms()
    while not cond():
        assert ticks_diff(ticks_ms(), start) < SAFETY_MS, what
        await asyncio.sleep(0.05)


async def test_a_yaum_job_with_no_nonce_is_counted_as_not_found():
    # a flipped bit in its L chunk: the slave hashes a job without an answer
    # and reads R = 0 with "C? " (yaum's "nothing found"), not a wrong nonce
    r = make_rig("rig-yaum-notfound", slaves=(11,))
    control(11, "garble_job", 1)
    slaves = await run_until(r, lambda ss: ss[0].accepted >= 1)
    assert slaves[0].lost == {"not found": 1}, slaves[0].as_dict()


async def test_a_locked_yaum_slave_is_named_once_and_parked_while_the_others_mine():
    workermod.LOCKED_LOOK_MS = 300  # a minute on the chip
    r = make_rig("rig-yaum-locked", slaves=(8, 11))
    ours, yaum = r.stats.slaves
    raw = SimI2C(os.getenv("DUCORIG_RIG_BUS"))
    task = asyncio.create_task(r.run())
    try:
        for _ in range(3):  # a D06 that lands after the hash ends is just run: try again
            await until(lambda: yaum.accepted >= 1 and yaum.state == "hash", "yaum hashing")
            raw.writeto(11, b"D06")  # data while it hashes: what the driver never sends
            start = ticks_ms()
            while yaum.state != "locked" and ticks_diff(ticks_ms(), start) < 20000:
                await asyncio.sleep(0.05)
            if yaum.state == "locked":
                break
        await until(lambda: yaum.state == "locked", "locked")
        held, other = yaum.accepted, ours.accepted
        await until(lambda: ours.accepted >= other + 3, "the other slave mines on")
        assert yaum.state == "locked" and yaum.accepted == held
        control(11, "factory")  # the power cycle
        await until(lambda: yaum.accepted >= held + 1, "yaum mining again")
    finally:
        r.stop()
        await task
        workermod.LOCKED_LOOK_MS = 60000
    said = [line for line in r.out.lines if "yaum slave locked: power-cycle it" in line]
    # a pool that did not answer in time is not the yaum slave's doing: a
    # loaded machine gave one (CI, stop 17); nothing else may cost a share
    assert len(said) == 1 and set(ours.lost) <= {"pool: timeout"}, r.out.lines


async def test_a_tier_bounce_lowers_the_rate_cap_until_shares_are_good():
    # ducorig at 340 H/s: AVR -> MEGA -> ARM -> MEGA, a bounce (MEGA refused
    # ~340 as too fast, ARM as too slow): capped at 95 % of that it stays on MEGA
    r = make_rig("rig-bounce", slaves=(8,), pool_env="DUCORIG_BOUNCE_POOL")
    slaves = await run_until(r, lambda ss: ss[0].accepted >= 3)
    s, worker = slaves[0], r.workers[0]
    assert 330 <= worker.fast_rate < 350 and s.errors.get("tier bounce") == 1, (s.as_dict(), r.out.lines)
    assert worker.rate_cap == int(worker.fast_rate * 0.95)  # under the rate MEGA refused
    assert 300 < worker.reported < worker.rate_cap + 0.5 and worker.diff == 6  # what it really hashes now, on MEGA
    said = [line for line in r.out.lines if "bounce" in line]
    assert said == ["s8: the pool's tiers bounce it at %d H/s: rate cap now %d H/s\n"
                    % (worker.fast_rate, worker.rate_cap)], r.out.lines


async def test_the_rate_reported_for_a_share_too_short_to_time_is_at_most_the_new_cap():
    # A share hashed in under 0.1 s reports the last measured rate. After a
    # bounce that was the rate the tiers refused: reported, it bounced the
    # slave once more (the 2-h soak, stop 19). At the bounce it drops to the cap.
    r = make_rig("rig-bounce-cap", slaves=(8,), pool_env="DUCORIG_BOUNCE_POOL")
    s, w = r.stats.slaves[0], r.workers[0]
    task = asyncio.create_task(r.run())
    try:
        await until(lambda: s.errors.get("tier bounce"), "bounced")
        assert w.rate_cap is not None and w.reported < w.rate_cap + 0.5, (w.reported, w.rate_cap)
    finally:
        r.stop()
        await task


async def test_a_tier_bounce_without_a_rate_cap_is_said_once_and_waited_out():
    # yaum at 196 H/s: AVR -> MEGA -> AVR; it cannot slow down
    workermod.BOUNCE_PARK_MS = 1500  # 10 min on the chip
    r = make_rig("rig-bounce-yaum", slaves=(11,), pool_env="DUCORIG_BOUNCE_POOL")
    s = r.stats.slaves[0]
    try:
        await run_until(r, lambda ss: ss[0].errors.get("tier bounce", 0) >= 2)
    finally:
        workermod.BOUNCE_PARK_MS = 600000
    said = [line for line in r.out.lines if "bounce" in line]
    assert len(said) == 1 and "no rate cap" in said[0] and s.accepted == 0, r.out.lines
    assert sum(s.rejected.values()) <= 2 * s.errors["tier bounce"]  # no flood of BAD shares


async def test_a_share_too_short_to_time_reports_the_slave_s_last_rate():
    # yaum at 400 H/s belongs on MEGA [380, 550); every 3rd job of fault-easy
    # has the answer 1: 2 hashes in 6.5 ms, which yaum's whole-ms clock reads
    # as 6 or 7 ms (333 or 286 H/s). Reported as such, MEGA would call it too
    # slow, send it down to AVR and back: a bounce, and a parked slave.
    r = make_rig("fault-easy", slaves=(11,))
    control(11, "hashrate", 400)
    slaves = await run_until(r, lambda ss: ss[0].accepted >= 6)
    s, w = slaves[0], r.workers[0]
    assert "Too high starting difficulty" not in s.rejected and "tier bounce" not in s.errors, (s.as_dict(), r.out.lines)
    assert sum(s.rejected.values()) <= 1 and w.reported >= 380 and w.diff == 16  # MEGA's


async def test_a_new_connection_asks_for_the_tier_the_pool_moved_the_slave_to():
    # yaum at 450 H/s: AVR [90, 380) calls it too fast and moves it to MEGA once;
    # after a reconnect it asks for MEGA at once instead of earning that BAD again
    r = make_rig("rig-tier-memory", slaves=(11,))
    control(11, "hashrate", 450)
    s, w = r.stats.slaves[0], r.workers[0]
    task = asyncio.create_task(r.run())
    try:
        await until(lambda: s.rejected and s.accepted >= 1, "moved to MEGA")
        w.redial = True
        held = s.accepted
        await until(lambda: s.accepted >= held + 3, "mining on a new connection")
    finally:
        r.stop()
        await task
    assert s.rejected == {"Too low starting difficulty": 1}, (s.as_dict(), r.out.lines)
    assert w.client.tier == "MEGA" and w.diff == 16


async def test_pause_holds_one_worker_while_the_others_mine():
    r = make_rig("rig-pause", slaves=(8, 9))
    a, b = r.stats.slaves
    task = asyncio.create_task(r.run())
    try:
        await until(lambda: a.accepted and b.accepted, "first shares")
        r.pause(r.workers[:1])
        await until(lambda: r.held == 1, "held")  # its share in flight is finished first
        held, other = a.accepted, b.accepted
        await until(lambda: b.accepted >= other + 2, "the other goes on")
        assert a.accepted == held and a.state == "paused" and r.held == 1
        r.resume(r.workers[:1], 1)  # one more share, then paused again
        await until(lambda: r.out.lines.count("s8: paused\n") == 2, "paused after its quota")
        assert held <= a.accepted <= held + 1 and r.workers[0].quota == 0 and r.held == 1
        r.resume(r.workers[:1])
        await until(lambda: a.accepted >= held + 2, "mining again")
        assert r.held == 0 and r.workers[0].quota is None
    finally:
        r.stop()
        await task


async def test_console_f_sets_the_bus_clock():
    from ducorig.console import Console
    from ducorig.simi2c import half_period_us

    r = make_rig("rig-freq", slaves=(8,))
    con = Console(r)
    before = r.bus.i2c.half_us
    for c in b"200f":
        await con.key(c)
    assert r.bus.i2c.freq == 200000 and r.bus.i2c.half_us == half_period_us(200000) != before
    await con.key(ord("f"))
    assert r.out.lines[-1] == "I2C 200 kHz\n"


def test_poll_interval_spreads_the_poll_budget():
    assert make_rig("x").poll_ms == 40  # 4 slaves, 100 polls/s
    assert make_rig("x", slaves=(8,)).poll_ms == 20  # never faster than 20 ms
    assert make_rig("x", poll_ms=7).poll_ms == 7
