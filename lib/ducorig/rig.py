# The rig: builds the bus, the pool clients and one worker task per slave from
# the config, staggers their starts, owns the statistics, and runs until
# stopped. main() is what the ESP8266's main.py (and the simulator) call.
import asyncio
import gc
import sys

from ducorig.bus import Bus
from ducorig.pool import SWEEP_MS, ConnectLimiter, PoolClient, backoff_ms, sweep_once
from ducorig.stats import RigStats
from ducorig.ticks import sleep_ms, ticks_diff, ticks_ms
from ducorig.worker import Worker

HEAP_SAMPLE_MS = 30000
REDISCOVER_GAP_MS = 60000
LAG_WINDOW_MS = 60000  # the loop-lag meter keeps the worst lag of the last minute or two


class Rig:
    def __init__(self, cfg, i2c, ready=None, recover=None, out=None):
        self.cfg = cfg
        self.out = out or sys.stdout
        self.bus = Bus(i2c, recover)
        self.stats = RigStats()
        self.running = True
        self.verbose = False
        self.held = 0  # workers waiting in gate()
        self.console = False  # run the console task on stdin (main() decides)
        self.watchdog = None  # on the chip: machine.WDT, armed by housekeeping when mining starts
        self.wdt = None  # the armed watchdog
        # The link the workers wait on while it is down: a station's
        # (wifi.Station.supervise); without one, always up.
        self.link = asyncio.Event()
        self.link.set()
        self.rediscover_requests = 0
        self.lag_ms = 0  # the loop's worst lag in this window and the last (the console's m)
        self._lag_prev = 0
        self._keeper = None  # the housekeeping task: stop() ends it, and with it run()
        self._discovering = None  # the getPool task in flight
        self._discovered = None  # ticks of the last getPool
        limiter = ConnectLimiter()
        # The bound of one step of a worker (docs/link-and-watchdog.md): the
        # longest is a connect, the limiter's wait and two pool timeouts (the
        # TCP connect, the version line), each swept within SWEEP_MS.
        self.step_ms = limiter.window_ms + 2 * (cfg.pool_timeout_ms + SWEEP_MS)
        self.workers = []
        for s in cfg.slaves:
            client = PoolClient(cfg.pool.host, cfg.pool.port, cfg.user, cfg.mining_key,
                                "AVR" if cfg.tier == "auto" else cfg.tier, cfg.software,
                                cfg.rig, cfg.wallet_id, cfg.pool_timeout_ms, limiter)
            self.workers.append(Worker(self, s, self.stats.add_slave(s.name, s.address), client))
        # The rig's status polls stay within the poll budget.
        self.poll_ms = cfg.poll_ms or max(20, len(cfg.slaves) * 1000 // cfg.poll_budget)
        self.watcher = None  # the ready line's watcher (ducorig.ready), when there is a line
        if ready is not None:
            from ducorig.ready import Watcher

            self.watcher = Watcher(ready, self.bus, self.poll_ms, self.log)

    def log(self, text):
        self.out.write(text + "\n")

    async def gate(self, worker):
        """Where a worker with a quota waits, between shares, while it is
        paused (quota 0); a quota of n lets n more shares through, one per
        pass. A held worker waits on its wake event: the ready-line watcher
        only sets it while the worker hashes, so it is free here."""
        if worker.quota == 0 and self.running:
            s = worker.stats
            state = s.state
            s.state = "paused"
            self.held += 1
            self.log(s.name + ": paused")
            worker.bound_ms = None  # a wait it chose, without end
            try:
                while worker.quota == 0:
                    worker.wake.clear()
                    await worker.wake.wait()
            finally:
                self.held -= 1
                s.state = state
                worker.mark(self.step_ms)
        if worker.quota:
            worker.quota -= 1

    def pause(self, workers):
        for w in workers:
            w.quota = 0  # each stops at its next gate: a share in flight is still submitted

    def resume(self, workers, quota=None):
        """Resume the workers; with a quota, each mines that many more shares
        and then pauses again."""
        for w in workers:
            w.quota = quota
            w.wake.set()

    def pool_trouble(self):
        """Repeated connect failures: the pool address may be stale. With
        pool.discover the API is asked again: one request for all workers,
        at most one a minute (the API limits each IP)."""
        self.rediscover_requests += 1
        if self.cfg.pool.discover and self._discovering is None and (
                self._discovered is None or ticks_diff(ticks_ms(), self._discovered) > REDISCOVER_GAP_MS):
            self._discovering = asyncio.create_task(self._discover())

    async def _discover(self):
        """One getPool; on success every connection dials that node from its
        next connect on (a working one keeps mining where it is). True if found."""
        from ducorig.discover import DiscoveryError, get_pool

        try:
            host, port = await get_pool(self.cfg.pool.discover, self.cfg.pool_timeout_ms)
        except DiscoveryError as e:
            self.log("pool discovery: %s" % e)
            return False
        finally:
            self._discovering = None
            self._discovered = ticks_ms()
        self.log("pool discovery: %s:%d" % (host, port))
        for worker in self.workers:
            worker.client.host = host
            worker.client.port = port
        return True

    async def find_pool(self):
        """Ask the API before any slave starts (TLS needs the heap they will
        take). Without a configured pool to fall back on, until it answers."""
        failures = 0
        while not await self._discover() and self.cfg.pool.host is None and self.running:
            failures += 1
            await sleep_ms(backoff_ms(failures, 2000))

    def stop(self):
        """Stop at once: run() cancels every task (a share in flight goes with its connection)."""
        self.running = False
        if self._keeper is not None:
            self._keeper.cancel()

    def safe_reboot(self):
        """The console's stop once the watchdog is armed (nothing stops it):
        reboot into the REPL, main.py skipping the autostart once."""
        from ducorig.autostart import reboot_to_repl

        reboot_to_repl()

    async def close(self):
        for worker in self.workers:
            await worker.client.close()

    async def run(self):
        tasks = []
        try:
            if self.console:  # first: it answers while the pool is found and the workers start
                from ducorig.console import Console

                tasks.append(asyncio.create_task(Console(self).run()))
            if self.cfg.pool.discover and self._discovered is None:  # not asked yet (autostart asks first)
                await self.find_pool()
            self._keeper = keeper = asyncio.create_task(self._housekeeping())
            tasks.append(keeper)
            if self.watcher is not None:
                tasks.append(asyncio.create_task(self.watcher.run()))
            if self.cfg.report:
                from ducorig.report import send_stats

                tasks.append(asyncio.create_task(send_stats(self, self.cfg.report)))
            for worker in self.workers:
                if not self.running:
                    break
                tasks.append(asyncio.create_task(worker.run()))
                await sleep_ms(self.cfg.stagger_ms)  # the pool likes staggered starts
            try:
                await keeper
            except asyncio.CancelledError:
                if self.running:  # not stop()'s: run() itself was cancelled
                    raise
        finally:
            self.running = False
            if self._discovering is not None:
                tasks.append(self._discovering)
            for t in tasks:
                t.cancel()
            # Closed only once every task has ended: an exchange that finds its
            # deadline cleared takes the cancel for the sweep's (a timeout).
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.close()

    async def _housekeeping(self):
        """One wake-up every SWEEP_MS (twice a second: more would cost every
        share, fewer would let the watchdog's 1.6 s run out) for what the rig does on a clock: bound
        the pool exchanges (pool.sweep_once), wake the workers of hung slaves
        on the ready line, feed the watchdog while no worker is stuck, sample
        the heap, and measure the loop's lag (how late this wake-up is: what
        every task waits when something blocks the loop). A loop that blocks
        feeds nothing, and the watchdog resets the chip."""
        if self.watchdog is not None:
            self.wdt = self.watchdog()  # armed now that the start-up is done
        clients = [w.client for w in self.workers]
        heap_at = lag_at = ticks_ms()
        stuck = None  # the worker the watchdog goes unfed for
        self.stats.sample_heap()
        while self.running:
            due = ticks_ms()
            await sleep_ms(SWEEP_MS)
            now = ticks_ms()
            lag = ticks_diff(now, due) - SWEEP_MS
            if lag > self.lag_ms:
                self.lag_ms = lag
            if ticks_diff(now, lag_at) >= LAG_WINDOW_MS:
                lag_at = now
                self._lag_prev = self.lag_ms
                self.lag_ms = 0
            sweep_once(clients)
            if self.watcher is not None:
                self.watcher.wake_overdue()
            if self.wdt is not None:
                # Fed unless a worker is past its bound (docs/link-and-watchdog.md):
                # the first is named once; the chip resets 1.6-3.2 s later.
                for w in self.workers:
                    if w.bound_ms is not None and ticks_diff(now, w.progress_at) > w.bound_ms:
                        if stuck is not w:
                            stuck = w
                            self.log("watchdog: %s stuck in %s for %d s: not fed" % (
                                w.stats.name, w.stats.state, ticks_diff(now, w.progress_at) // 1000))
                        break
                else:
                    stuck = None
                    self.wdt.feed()
            if ticks_diff(now, heap_at) >= HEAP_SAMPLE_MS:
                heap_at = now
                self.stats.sample_heap()

    def worst_lag_ms(self):
        """The loop's worst lag over the last one to two minutes."""
        return max(self.lag_ms, self._lag_prev)


def make_i2c(cfg):
    """The I2C bus the config names: the simulated one, or the chip's SoftI2C
    (with bus recovery and the ready line when a pin is configured)."""
    if cfg.i2c.sim:
        from ducorig.simi2c import SimI2C

        i2c = SimI2C(cfg.i2c.sim, cfg.i2c.freq)
        return i2c, (i2c.ready_line() if cfg.i2c.ready_pin is not None else None), None
    import machine

    from ducorig.bus import pin_recovery
    from ducorig.ready import PinReady

    i2c = machine.SoftI2C(scl=machine.Pin(cfg.i2c.scl), sda=machine.Pin(cfg.i2c.sda), freq=cfg.i2c.freq)
    ready = None if cfg.i2c.ready_pin is None else PinReady(machine.Pin(cfg.i2c.ready_pin, machine.Pin.IN))
    return i2c, ready, pin_recovery(machine, cfg.i2c.scl, cfg.i2c.sda, cfg.i2c.freq)


def console_wanted():
    """The console runs on the chip (UART/WebREPL) and on a terminal."""
    if sys.platform == "esp8266":
        return True
    import os

    return os.system("test -t 0") == 0


def main(path="config.json", console=None, runner=None):
    """Load the config and mine until stopped. A broken config stops here,
    with every problem named by its key. console: None runs the console
    task when stdin is a terminal (or on the chip), True/False force it.
    runner: an async function runner(rig) that mines in place of rig.run()
    (the chip's autostart.headless: WiFi first, then the watchdog; the
    sim's simi2c.online by default)."""
    import ducorig
    from ducorig import config

    try:
        cfg = config.load(path)
    except config.ConfigError as e:
        for problem in e.problems:
            print("config error:", problem)
        return None
    for note in cfg.notes:
        print(note)
    # The checker's tables are only needed at start: give their RAM back
    # (the console's config command imports the module again).
    del config, ducorig.config, sys.modules["ducorig.config"]
    gc.collect()
    i2c, ready, recover = make_i2c(cfg)
    rig = Rig(cfg, i2c, ready, recover)
    rig.console = console_wanted() if console is None else console
    if runner is None and cfg.i2c.sim:
        from ducorig.simi2c import online as runner
    try:
        asyncio.run(rig.run() if runner is None else runner(rig))
    except KeyboardInterrupt:  # escapes asyncio.run: the tasks' finally blocks never ran
        asyncio.new_event_loop()
        asyncio.run(rig.close())
    finally:
        asyncio.new_event_loop()  # asyncio.run keeps tasks between runs on MicroPython
    print("ducorig: stopped")
    return rig
