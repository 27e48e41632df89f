# The console: a postfix one-letter HMI on stdin (the UART and WebREPL both
# arrive there through dupterm), run as one task beside the workers. Digits
# build a number; `n#` selects slave n; a number before a letter is that
# command's value; Backspace edits, Esc clears (an Esc sequence such as an
# arrow key is discarded up to its final byte). Commands come from CMDS, a
# table of tuples. Output: short lines, one write each, a yield between lines.
# docs/console.md is the user's page.
import asyncio
import gc
import sys

from ducorig.ticks import ticks_diff, ticks_ms

CHIP = sys.platform == "esp8266"
BIG = 10000000  # numbers stop growing here: "too large" for every command
QUIET_MS = 300  # errors this close to the last one are counted, not printed

# (letter, method, largest value or 0 for none, help). Per-slave commands act
# on the selection, or on every slave when none is selected.
CMDS = (
    ("?", "c_help", 0, "this help"),
    ("o", "c_over", 0, "overview: one line per slave"),
    ("d", "c_detail", 0, "detail and phase timing of the selected slave(s)"),
    ("s", "c_stats", 0, "rig statistics and free heap"),
    ("p", "c_pause", 0, "pause the selected slave(s) after the current share"),
    ("g", "c_go", 99999, "go: resume; n g: each selected mines n more, then pauses"),
    ("c", "c_redial", 0, "reconnect the selected slave(s) to the pool"),
    ("X", "c_reset", 0, "reset the selected slave(s) (protocol X)"),
    ("S", "c_status", 0, "read the selected slave(s)' status bytes"),
    (">", "c_raw", 32, "n>: raw command line to the selected slave, Enter sends, n reply bytes"),
    ("b", "c_scan", 0, "scan the I2C bus"),
    ("f", "c_freq", 400, "n f: I2C clock n kHz (10..400); f: show it"),
    ("z", "c_zero", 0, "zero the statistics"),
    ("v", "c_verbose", 1, "verbose share log: v toggles, 0v off, 1v on"),
    ("C", "c_config", 0, "show the config (secrets masked)"),
    ("w", "c_wifi", 0, "WiFi status"),
    ("R", "c_reboot", 0, "reboot the ESP8266"),
    ("q", "c_quit", 0, "stop mining (all sockets closed), back to the REPL"),
)


class Console:
    def __init__(self, rig, out=None):
        self.rig = rig
        self.out = out or rig.out
        self.num = None  # the number being typed
        self.sel = None  # the selected slave's index, None: all
        self.esc = 0  # 1: after Esc, 2: inside an Esc [ or Esc O sequence
        self.buf = bytearray(31)  # a raw line (">"): a slave takes 31 bytes at most
        self.line = None  # its length while one is typed, else None
        self.want = 3  # reply bytes of that raw line
        self.err_t = None
        self.hushed = 0  # errors counted but not printed
        self.interrupted = False

    # -- output -----------------------------------------------------------
    async def say(self, text):
        self.out.write(text[:79] + "\n")
        await asyncio.sleep(0)  # a worker may run between two lines

    async def error(self, text):
        now = ticks_ms()
        if self.err_t is not None and ticks_diff(now, self.err_t) < QUIET_MS:
            self.hushed += 1  # a paste burst: one line, not a flood
            self.err_t = now
            return
        self.err_t = now
        if self.hushed:
            text += " (+%d ignored)" % self.hushed
            self.hushed = 0
        await self.say("? " + text)

    # -- input ------------------------------------------------------------
    async def key(self, c):
        """One input byte (an int). False when the console must stop reading."""
        if c == 3 or c == 1:  # Ctrl-C (or Ctrl-A: mpremote's raw REPL entry)
            self.interrupted = True
            await self.c_quit(None)
            return False
        if self.line is not None:
            await self._line_key(c)
            return True
        if self.esc:
            if self.esc == 1 and c in (0x5B, 0x4F):  # Esc [ or Esc O
                self.esc = 2 if c == 0x5B else 3
                return True
            if self.esc >= 2:  # parameter bytes until the final byte
                if self.esc == 3 or 0x40 <= c <= 0x7E or c < 0x20 or c > 0x7E:
                    self.esc = 0
                return True
            self.esc = 0  # a lone Esc, then a key of its own
        if 0x30 <= c <= 0x39:
            n = (self.num or 0) * 10 + c - 0x30
            self.num = n if n < BIG else BIG
        elif c == 8 or c == 0x7F:
            self.num = None if self.num is None or self.num < 10 else self.num // 10
        elif c == 0x1B:
            self.num = None
            self.esc = 1
        elif c in (10, 13, 32):
            pass  # Enter and space: nothing to do (a number waits for its letter)
        elif c == 4:
            await self.error("Ctrl-D: stop first (q or Ctrl-C); the REPL soft-resets")
        elif c == 0x23:  # '#'
            await self._select(self._take())
        elif 0x20 < c < 0x7F:
            await self._command(chr(c), self._take())
        else:
            self.num = None
            await self.error("bad key 0x%02x" % c)
        return True

    def _take(self):
        n = self.num
        self.num = None
        return n

    async def _select(self, n):
        if n is None:
            self.sel = None
            await self.say("all slaves")
        elif n >= len(self.rig.workers):
            await self.error("no slave %d (0..%d)" % (n, len(self.rig.workers) - 1))
        else:
            self.sel = n
            await self.say("slave %d: %s" % (n, self.rig.workers[n].stats.name))

    async def _command(self, letter, n):
        for cmd in CMDS:
            if cmd[0] == letter:
                if n is not None and n > cmd[2]:
                    if cmd[2]:
                        await self.error("%s: %d is too large (max %d)" % (letter, n, cmd[2]))
                    else:
                        await self.error("%s takes no number" % letter)
                    return
                try:
                    await getattr(self, cmd[1])(n)
                except Exception as e:  # a console bug must not stop mining
                    await self.error("%s: %s %s" % (letter, type(e).__name__, e))
                return
        await self.error("unknown command %s (? for help)" % letter)

    def _chosen(self):
        """The selected workers: (index, worker) pairs."""
        ws = self.rig.workers
        if self.sel is None:
            return [(i, ws[i]) for i in range(len(ws))]
        return [(self.sel, ws[self.sel])]

    def _workers(self):
        return [w for i, w in self._chosen()]

    def _which(self):
        return "all slaves" if self.sel is None else "slave %d" % self.sel

    # -- commands ---------------------------------------------------------
    async def c_help(self, n):
        await self.say("n# select slave n (# alone: all); n before a letter is its value")
        for cmd in CMDS:
            await self.say(" %s  %s" % (cmd[0], cmd[3]))
        await self.say(" Bksp edits n, Esc clears, Ctrl-C stops (REPL)")

    async def c_over(self, n):
        rig = self.rig
        for i, w in self._chosen():
            s = w.stats
            state = s.state  # "paused" once held at the gate (rig.gate)
            if w.quota == 0 and state != "paused":
                state = "pausing"  # finishing its current share
            elif w.quota:
                state = "+%d" % w.quota  # shares left before it pauses
            await self.say("%d %-6s %-8s %6.1fH/s A%d R%d busy%3d%% eff%3d%% %s" % (
                i, s.name[:6], state[:8], s.hashrate(), s.accepted, sum(s.rejected.values()),
                int(s.busy_fraction() * 100), int(100 * 0.96 ** i), (s.last_bad or "")[:16]))
        mode = "stopped" if not rig.running else "paused" if rig.held == len(rig.workers) else "mining"
        await self.say("%s, %d held%s" % (mode, rig.held, "" if self.sel is None else ", sel %d" % self.sel))

    async def c_detail(self, n):
        from ducorig.stats import PHASES

        for i, w in self._chosen():
            s = w.stats
            await self.say("%d %s 0x%02x %s %s %s" % (i, s.name, s.address, s.protocol, s.ducoid, s.state))
            for k in range(len(PHASES)):
                await self.say("  %-6s n%d mean %.1f max %.1f ms" % ((PHASES[k],) + s.phase(k)))
            await self.say("  %.1fH/s polls %d blocks %d busy %d%%" % (
                s.hashrate(), s.polls, s.blocks, int(s.busy_fraction() * 100)))
            for name, table in (("rejected", s.rejected), ("lost", s.lost), ("errors", s.errors)):
                if table:
                    await self.say("  %s %s" % (name, table))

    async def c_stats(self, n):
        rig = self.rig
        rig.stats.sample_heap()
        t = rig.stats.totals()
        await self.say("A%d R%d lost %d, %.2f shares/s over %ds" % (
            t["accepted"], t["rejected"], t["lost"], t["shares_per_s"], int(t["elapsed_s"])))
        await self.say("overhead p50/p95 %s/%s ms; bus %d failed transfers" % (
            t["overhead_ms"][0], t["overhead_ms"][1], rig.bus.failures))
        await self.say("free heap %s (min %s); poll %d ms" % (t["free_heap"], t["free_heap_min"], rig.poll_ms))

    async def c_pause(self, n):
        self.rig.pause(self._workers())
        await self.say("pausing %s after the current share" % self._which())

    async def c_go(self, n):
        self.rig.resume(self._workers(), n)
        text = "mining " + self._which()
        await self.say(text if n is None else text + ", %d more shares each" % n)

    async def c_redial(self, n):
        for i, w in self._chosen():
            w.redial = True
        await self.say("reconnect after the current share")

    async def c_reset(self, n):
        from ducorig.proto import RESET

        for i, w in self._chosen():
            try:
                self.rig.bus.transfer(w.cfg.address, RESET, None)
                await self.say("%d: reset sent" % i)
            except Exception as e:
                await self.error("%d: %s" % (i, e))

    async def c_status(self, n):
        from ducorig.proto import STATUS

        buf = bytearray(3)
        for i, w in self._chosen():
            try:
                self.rig.bus.transfer(w.cfg.address, STATUS, buf)
                await self.say("%d: status %s" % (i, bytes(buf)))
            except Exception as e:
                await self.error("%d: %s" % (i, e))

    async def c_raw(self, n):
        if self.sel is None:
            await self.error("select a slave first: n#")
        elif self.rig.workers[self.sel].stats.state != "paused":
            await self.error("pause first (p): the worker owns the slave")
        else:
            self.want = 3 if n is None else n
            self.line = 0
            self.out.write("raw %d> " % self.sel)

    async def _line_key(self, c):
        n = self.line
        if c == 13 or c == 10:
            self.line = None
            self.out.write("\n")
            if n:
                await self._send_raw(bytes(self.buf[:n]))
        elif c == 0x1B:
            self.line = None
            await self.say(" cancelled")
        elif c == 8 or c == 0x7F:
            if n:
                self.line = n - 1
                self.out.write("\b \b")
        elif 0x20 <= c < 0x7F and n < len(self.buf):
            self.buf[n] = c
            self.line = n + 1
            self.out.write(chr(c))

    async def _send_raw(self, data):
        addr = self.rig.workers[self.sel].cfg.address
        bus = self.rig.bus
        try:
            async with bus.lock:  # a session: write, wait, read
                bus.transfer(addr, data, None)
                if self.want:
                    await asyncio.sleep(0.01)  # a Pro Mini builds some replies in loop()
                    buf = bytearray(self.want)
                    bus.transfer(addr, None, buf)
            await self.say("0x%02x: %s" % (addr, bytes(buf)) if self.want else "0x%02x: sent" % addr)
        except Exception as e:
            await self.error("0x%02x: %s" % (addr, e))

    async def c_scan(self, n):
        bus = self.rig.bus
        async with bus.lock:  # one blocking scan, ~15 ms at 100 kHz
            found = bus.i2c.scan()
        known = [w.cfg.address for w in self.rig.workers]
        await self.say("found: " + (" ".join("%02x%s" % (a, "" if a in known else "?") for a in found) or "none"))
        missing = [a for a in known if a not in found]
        if missing:
            await self.say("missing: " + " ".join("%02x" % a for a in missing))

    async def c_freq(self, n):
        bus = self.rig.bus
        cfg = self.rig.cfg.i2c
        if n is None:
            await self.say("I2C %d kHz" % (cfg.freq // 1000))
            return
        if n < 10:
            await self.error("f: 10..400 kHz")
            return
        freq = n * 1000
        async with bus.lock:
            if hasattr(bus.i2c, "half_us"):  # the simulated bus
                from ducorig.simi2c import half_period_us

                bus.i2c.freq = freq
                bus.i2c.half_us = half_period_us(freq)
            else:  # SoftI2C has no init(): a fresh one on the same pins
                import machine

                bus.i2c = machine.SoftI2C(scl=machine.Pin(cfg.scl), sda=machine.Pin(cfg.sda), freq=freq)
            cfg.freq = freq
        await self.say("I2C %d kHz" % n)

    async def c_zero(self, n):
        rig = self.rig
        rig.stats.reset()
        await self.say("statistics zeroed")

    async def c_verbose(self, n):
        rig = self.rig
        rig.verbose = (not rig.verbose) if n is None else bool(n)
        await self.say("verbose " + ("on" if rig.verbose else "off"))

    async def c_config(self, n):
        loaded = "ducorig.config" in sys.modules
        from ducorig import config  # rig.main dropped it to save RAM

        shown = config.masked(self.rig.cfg)
        if not loaded:
            sys.modules.pop("ducorig.config", None)
        for k in shown:
            v = shown[k]
            if k == "slaves":
                for s in v:
                    await self.say(" slave 0x%02x %s %s" % (s["address"], s["name"], s["protocol"]))
            else:
                await self.say(" %s: %s" % (k, v))
        gc.collect()

    async def c_wifi(self, n):
        try:
            import network
        except ImportError:
            await self.say("WiFi: not on this platform")
            return
        sta = network.WLAN(network.STA_IF)
        if not sta.isconnected():
            await self.say("WiFi: not connected (status %s)" % sta.status())
            return
        await self.say("WiFi: %s rssi %s" % (sta.ifconfig()[0], sta.status("rssi")))

    async def c_reboot(self, n):
        if not CHIP:
            await self.say("reboot: not on this platform")
            return
        await self.say("rebooting")
        import machine

        machine.reset()

    async def c_quit(self, n):
        rig = self.rig
        if getattr(rig, "wdt", None) is not None:
            # An armed ESP8266 watchdog cannot be stopped: reboot into the REPL
            # without autostart instead (rig.safe_reboot).
            await self.say("watchdog armed: rebooting into the REPL, no autostart")
            rig.safe_reboot()
            return
        await self.say("stopping: closing pool connections")
        rig.stop()

    # -- the task ---------------------------------------------------------
    async def run(self, stream=None):
        """Read stdin (or stream) until Ctrl-C/q or end of input; at end of
        input (headless, stdin closed) mining goes on without a console."""
        kbd = None
        tty = False
        if CHIP:
            import micropython

            micropython.kbd_intr(-1)  # Ctrl-C arrives here as a byte
            kbd = micropython
        elif stream is None and sys.implementation.name == "micropython":
            import os

            # The unix port's terminal: one key at a time, Ctrl-C as a byte.
            tty = os.system("test -t 0 && stty -icanon -echo -isig min 1 2>/dev/null") == 0
        src = stream or sys.stdin
        src = getattr(src, "buffer", src)
        reader = _reader(src)
        try:
            await self.say("console: ? for help")
            while self.rig.running:
                b = await reader.read(1)
                if not b:
                    await self.say("console: input closed, mining goes on")
                    return
                try:
                    if not await self.key(b[0] if isinstance(b, bytes) else ord(b)):
                        return
                except Exception as e:  # a console bug must not end the console
                    self.line = None
                    await self.error("console: %s %s" % (type(e).__name__, e))
        finally:
            if kbd is not None:
                kbd.kbd_intr(3)
            if tty:
                import os

                os.system("stty icanon echo isig")


def _reader(src):
    if sys.implementation.name == "micropython":
        return asyncio.StreamReader(src)
    return _FdReader(src.fileno())


class _FdReader:
    """CPython: read(n) on a file descriptor without blocking the loop."""

    def __init__(self, fd):
        self.fd = fd

    async def read(self, n):
        import os

        loop = asyncio.get_event_loop()
        ready = loop.create_future()
        try:
            loop.add_reader(self.fd, ready.set_result, None)
        except OSError:  # EPERM: a file or /dev/null, which epoll refuses and which never blocks
            return os.read(self.fd, n)
        try:
            await ready
        finally:
            loop.remove_reader(self.fd)
        return os.read(self.fd, n)
