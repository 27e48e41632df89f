# The watchdog fed by progress, on both runtimes: the rig's housekeeping
# feeds it only while every worker has done a step within its state's bound,
# or waits in a state it chose (paused, back-off, offline, hashing within its
# job's limit). A fake watchdog counts the feeds and a wrapped pool sweep the
# housekeeping's passes: every pass of a healthy rig feeds once, a stuck
# worker stops the feeding, and so does a loop that blocks. The rigs run with
# a step bound of a few hundred ms (51 s by default) so that their waits
# outlast it. Deadlines are safety nets; assertions count feeds and passes.
# mpunit: heapsize=512k
import asyncio
import time

from ducorig import rig as rigmod
from ducorig.simi2c import SimWDT
from test_rig import control, make_rig, until

STEP_MS = 400  # the rigs' step bound here: shorter than their back-offs, hashes and pauses
WINDOW_MS = 1500  # the sim watchdog's here (the chip's: 1.6-3.2 s), 3 housekeeping passes


class FakeWDT:
    def __init__(self):
        self.feeds = 0

    def feed(self):
        self.feeds += 1


class CountedSimWDT(SimWDT):
    """The sim's watchdog (it resets when starved), its feeds counted."""
    feeds = 0

    def feed(self):
        self.feeds += 1
        super().feed()


class Watched:
    """A rig with a fake watchdog (made by arm(), as the rig arms the
    chip's when mining starts), and its housekeeping's passes counted."""

    def __init__(self, rig, arm=FakeWDT):
        self.rig = rig
        rig.step_ms = STEP_MS
        self.wdt = None
        self._arm = arm
        rig.watchdog = self.arm
        self.passes = 0
        self._sweep = rigmod.sweep_once
        rigmod.sweep_once = self._counted
        self.task = asyncio.create_task(rig.run())

    def arm(self):
        self.wdt = self._arm()
        return self.wdt

    def _counted(self, clients):
        self.passes += 1
        self._sweep(clients)

    async def over(self, passes):
        """(passes, feeds) over the next `passes` housekeeping passes."""
        p, f = self.passes, self.wdt.feeds
        await until(lambda: self.passes >= p + passes, "housekeeping passes")
        return self.passes - p, self.wdt.feeds - f

    async def stop(self):
        self.rig.stop()
        await self.task
        rigmod.sweep_once = self._sweep


async def test_a_mining_rig_is_fed_at_every_pass_its_hashes_outlasting_a_step():
    w = Watched(make_rig("wdt-mining", slaves=(8, 11)))
    try:
        await until(lambda: all(s.accepted >= 2 for s in w.rig.stats.slaves), "mining")
        passes, feeds = await w.over(6)  # 3 s: hashes of 1-4 s, each past the 0.4 s step
        assert feeds == passes
    finally:
        await w.stop()
    assert not [line for line in w.rig.out.lines if line.startswith("watchdog")], w.rig.out.lines


async def test_a_stuck_worker_stops_the_feeding_and_is_named_once():
    w = Watched(make_rig("wdt-stuck", slaves=(8, 9)))
    ours, stuck = w.rig.stats.slaves
    never = asyncio.Event()

    async def job_that_never_comes():  # a bug: an await that never returns
        await never.wait()

    try:
        await until(lambda: stuck.accepted >= 1, "mining")
        w.rig.workers[1].client.request_job = job_that_never_comes
        await until(lambda: any(line.startswith("watchdog") for line in w.rig.out.lines), "named")
        mined = ours.accepted
        passes, feeds = await w.over(4)
        await until(lambda: ours.accepted > mined, "the other slave mines on")
        assert feeds == 0
    finally:
        await w.stop()
    said = [line for line in w.rig.out.lines if line.startswith("watchdog")]
    assert len(said) == 1 and said[0].startswith("watchdog: s9 stuck in "), said
    assert said[0].endswith(": not fed\n"), said


async def test_a_stuck_worker_resets_the_sims_watchdog():
    resets = []
    w = Watched(make_rig("wdt-stuck-sim", slaves=(8,)), lambda: SimWDT(WINDOW_MS, resets.append))
    never = asyncio.Event()

    async def job_that_never_comes():
        await never.wait()

    try:
        await until(lambda: w.rig.stats.slaves[0].accepted >= 1, "mining")
        w.rig.workers[0].client.request_job = job_that_never_comes
        await until(lambda: resets, "the watchdog's reset")
    finally:
        await w.stop()
    assert len(resets) == 1 and resets[0].startswith("watchdog reset: not fed for "), resets


async def test_a_fully_paused_rig_keeps_feeding():
    w = Watched(make_rig("wdt-paused", slaves=(8, 9)))
    try:
        await until(lambda: all(s.accepted >= 1 for s in w.rig.stats.slaves), "mining")
        w.rig.pause(w.rig.workers)
        await until(lambda: w.rig.held == 2, "all paused")
        passes, feeds = await w.over(6)  # 3 s paused, 7 step bounds
        assert feeds == passes and w.rig.held == 2
        w.rig.resume(w.rig.workers)
        mined = [s.accepted for s in w.rig.stats.slaves]
        await until(lambda: all(s.accepted > m for s, m in zip(w.rig.stats.slaves, mined)), "mining again")
        passes, feeds = await w.over(2)
        assert feeds == passes  # the pause's end is a fresh start of its bound
    finally:
        await w.stop()


async def test_back_offs_keep_feeding():
    # slave 9 unplugged: bus back-offs of 0.5, 1, 2, 4 s; slave 8's pool
    # refuses: back-offs of 1, 2, 4 s; both past the step bound
    w = Watched(make_rig("wdt-backoff", slaves=(8, 9)))
    control(9, "unplugged", 1)
    refusing, unplugged = w.rig.stats.slaves
    w.rig.workers[0].client.port = 1  # nothing listens there
    try:
        await until(lambda: unplugged.errors.get("bus: absent", 0) >= 3
                    and refusing.errors.get("pool: refused", 0) >= 2, "longer back-offs")
        passes, feeds = await w.over(6)  # 3 s: back-offs of 2 s and more
        assert feeds == passes
    finally:
        await w.stop()
        control(9, "unplugged", 0)


async def test_a_hung_slave_is_reset_past_its_limit_and_the_rig_stays_fed():
    # hashing is bounded by the job's limit: past it the worker resets the slave
    w = Watched(make_rig("wdt-hung", slaves=(10,)))
    s = w.rig.stats.slaves[0]
    control(10, "hung", 1)
    try:
        await until(lambda: s.errors.get("slave: failed", 0) >= 1, "reset past the limit")
        control(10, "hung", 0)
        await until(lambda: s.accepted >= 1, "mining again")
        assert w.wdt.feeds == w.passes  # never unfed: the limit and the reset kept it in bounds
    finally:
        await w.stop()


async def test_waiting_for_the_link_keeps_feeding():
    w = Watched(make_rig("wdt-offline", slaves=(8, 9)))
    try:
        await until(lambda: all(s.accepted >= 1 for s in w.rig.stats.slaves), "mining")
        w.rig.link.clear()  # what the station's supervisor does when the link is lost
        await until(lambda: all(s.state == "offline" for s in w.rig.stats.slaves), "offline")
        passes, feeds = await w.over(6)
        assert feeds == passes
        w.rig.link.set()
        mined = [s.accepted for s in w.rig.stats.slaves]
        await until(lambda: all(s.accepted > m for s, m in zip(w.rig.stats.slaves, mined)), "mining again")
    finally:
        await w.stop()


async def test_a_wedged_loop_stops_the_feeding_and_resets_the_sims_watchdog():
    # a task that blocks: nothing else runs, the housekeeping included, so
    # nothing feeds (a timer's callback would: the chip runs those from
    # inside a blocking sleep); the sim's watchdog sees it once the loop runs
    resets = []
    w = Watched(make_rig("wdt-wedged", slaves=(8,)), lambda: CountedSimWDT(WINDOW_MS, resets.append))
    try:
        await until(lambda: w.rig.stats.slaves[0].accepted >= 1 and w.wdt.feeds, "mining, fed")
        fed = w.wdt.feeds
        time.sleep(2 * WINDOW_MS / 1000)  # the wedge
        assert w.wdt.feeds == fed and resets == []
        await until(lambda: resets, "the watchdog's reset")
    finally:
        await w.stop()
    assert len(resets) == 1 and resets[0].startswith("watchdog reset: not fed for "), resets
