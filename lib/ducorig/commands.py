# The console's commands, their table and the help. The console
# (ducorig.console, resident) imports this module when a key other than a
# digit or an edit arrives, and drops it after the key was handled, so its RAM
# (a function object per command, the table, the strings) is taken only while
# a command runs. Each command is an async function (con, n): con is the
# Console (say, error, sel, rig), n the number typed before the letter or
# None. Output is for people: words, no Python reprs, and every line fits 80
# columns (con.say wraps). docs/console.md is the user's page.
import sys

from ducorig.ticks import ticks_diff, ticks_us


def chosen(con):
    """The selected workers as (index, worker) pairs: the selection, or all."""
    ws = con.rig.workers
    if con.sel is None:
        return [(i, ws[i]) for i in range(len(ws))]
    return [(con.sel, ws[con.sel])]


def which(con):
    return "all slaves" if con.sel is None else "slave %d" % con.sel


def rate(s):
    """A slave's H/s, or - while it does not hash (paused, failed, none measured yet)."""
    r = s.hashrate()
    return "-" if not r or s.state == "paused" or s.state.endswith("error") else "%d" % r


def printable(data):
    return "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in data)


def hex_and_text(data):
    """Bytes for people: hex, then the text ('.' where not printable)."""
    return '%s ("%s")' % (" ".join("%02x" % b for b in data), printable(data))


async def letter(con, c, n):
    """A key other than a digit or an edit (console.key): echo it and run its
    command with the value n, or say why it does nothing."""
    k = chr(c) if 0x20 < c < 0x7F else None
    echo = "> %s%s" % ("" if n is None else n, k)
    if c == 4:
        await con.error("Ctrl-D: stop first (q or Ctrl-C); the REPL soft-resets")
    elif c == 0x13 or c == 0x11:
        await con.error("Ctrl-S/Ctrl-Q: no flow control here, output never stops the rig")
    elif k is None:
        await con.error("bad key 0x%02x" % c)
    elif k == "#":
        ws = con.rig.workers
        if n is not None and n >= len(ws):
            await con.error("no slave %d (0..%d)" % (n, len(ws) - 1))
            return
        await con.say(echo)
        con.sel = n
        await con.say("all slaves" if n is None else "slave %d: %s" % (n, ws[n].stats.name))
    else:
        for cmd in CMDS:
            if cmd[0] == k:
                top = cmd[2]
                if n is not None and n > top:
                    if top:
                        await con.error("%s: %d is too large (max %d)" % (k, n, top))
                    else:
                        await con.error("%s takes no number" % k)
                    return
                await con.say(echo)
                try:
                    await cmd[1](con, n)
                except Exception as e:  # a console bug must not stop mining
                    await con.error("%s: %s %s" % (k, type(e).__name__, e))
                return
        await con.error("unknown command %s (? for help)" % k)


async def hello(con):
    """The console's banner (console.run: the first import of this module)."""
    await con.say("console: ? for help")


async def pasted(con, size, seen):
    """What console.keys ignored, a paste (seen: its first bytes), in one
    line; a raw line being typed and a number are dropped with it."""
    if con.line is not None:
        con.line = None
        con.out.write(" cancelled\n")
    con.num = None
    con.esc = 0
    await con.error("paste ignored (%d bytes), nothing ran: %s%s" % (
        size, printable(seen), "..." if size > len(seen) else ""))


async def c_help(con, n):
    await con.say("n# select slave n (# alone: all); n before a letter is its value")
    for cmd in CMDS:
        await con.say(" %s  %s" % (cmd[0], cmd[3]))
    await con.say(" Bksp edits n, Esc clears, Ctrl-C stops; a paste runs nothing")


async def c_over(con, n):
    rig = con.rig
    await con.say(" # name     state         H/s     A    R busy  eff last BAD")
    for i, w in chosen(con):
        s = w.stats
        state = s.state  # "paused" once held at the gate (rig.gate)
        if w.quota == 0 and state != "paused":
            state = "pausing"  # finishing its current share
        elif w.quota:
            state = "+%d" % w.quota  # shares left before it pauses
        await con.say(("%2d %-8s %-11s %5s %5d %4d %3d%% %3d%% %s" % (
            i, s.name, state, rate(s), s.accepted, sum(s.rejected.values()),
            int(s.busy_fraction() * 100), int(100 * 0.96 ** i), s.last_bad or "")).rstrip())
    mode = "stopped" if not rig.running else "paused" if rig.held == len(rig.workers) else "mining"
    await con.say("%s, %d held%s" % (mode, rig.held, "" if con.sel is None else ", sel %d" % con.sel))


async def c_detail(con, n):
    names = ("job wait", "I2C", "hash", "submit wait")  # stats.PHASES, for people
    for i, w in chosen(con):
        s = w.stats
        await con.say("%d %s at 0x%02x: %s, %s, %s" % (
            i, s.name, s.address, s.protocol or "protocol not known yet", s.ducoid or "no DUCOID yet", s.state))
        for k in range(len(names)):
            count, mean, top = s.phase(k)
            await con.say("  %-11s %5d shares, mean %7.1f ms, max %6d ms" % (names[k], count, mean, top))
        await con.say("  %s H/s, %d polls, %d blocks, busy %d%%" % (
            rate(s), s.polls, s.blocks, int(s.busy_fraction() * 100)))
        for name, table in (("rejected", s.rejected), ("lost", s.lost), ("errors", s.errors)):
            if table:
                await con.say("  %s: %s" % (name, ", ".join("%s %d" % (k, table[k]) for k in table)))


def ms(value):
    return "-" if value is None else "%d" % value


async def c_stats(con, n):
    rig = con.rig
    free = rig.stats.sample_heap()
    t = rig.stats.totals()
    await con.say("%d accepted, %d rejected, %d lost: %.2f shares/s over %d s" % (
        t["accepted"], t["rejected"], t["lost"], t["shares_per_s"], int(t["elapsed_s"])))
    await con.say("overhead p50/p95 %s/%s ms; bus %d failed transfers; poll %d ms" % (
        ms(t["overhead_ms"][0]), ms(t["overhead_ms"][1]), rig.bus.failures, rig.poll_ms))
    await con.say("free heap: n/a on this port" if free is None else
                  "free heap %d B (lowest %d B)" % (free, t["free_heap_min"]))


async def c_pause(con, n):
    con.rig.pause([w for i, w in chosen(con)])
    await con.say("pausing %s after the current share" % which(con))


async def c_go(con, n):
    for i, w in chosen(con):
        # A worker that is not held has a share in flight: it is the first of
        # the n (the gate counts the shares it lets through after it).
        con.rig.resume([w], n if n is None or w.stats.state == "paused" else max(0, n - 1))
    text = "mining " + which(con)
    if n is not None:
        text += ", %d more shares%s, then paused" % (n, " each" if con.sel is None else "")
    await con.say(text)


async def c_redial(con, n):
    for i, w in chosen(con):
        w.redial = True
    await con.say("reconnect after the current share")


async def transfer(con, i, w, out, into):
    """One transfer of the console to worker w's slave, between the bus's
    sessions (a yaum job load must not be cut into); False, and a line, if it failed."""
    bus = con.rig.bus
    if bus.lock.locked():
        await bus.free()
    try:
        bus.transfer(w.cfg.address, out, into)
        return True
    except Exception as e:
        await con.error("%d %s: %s" % (i, w.stats.name, e))
        return False


async def c_reset(con, n):
    from ducorig.proto import RESET

    for i, w in chosen(con):
        protocol = w.stats.protocol or w.cfg.protocol  # as identified, else as configured
        head = "%d %s: " % (i, w.stats.name)
        if protocol == "yaum":
            await con.say(head + "yaum has no reset command (power-cycle it); nothing sent")
        elif await transfer(con, i, w, RESET, None):
            await con.say(head + ("reset sent" if protocol == "ducorig" else
                                  "reset sent (protocol not known yet: a yaum slave ignores it)"))


async def c_status(con, n):
    from ducorig.proto import STATUS

    for i, w in chosen(con):
        buf = bytearray(3)
        if await transfer(con, i, w, STATUS, buf):
            await con.say("%d %s: %s" % (i, w.stats.name, status_words(buf, w.stats.protocol)))


def status_words(buf, protocol):
    """A status reply in words (docs/i2c-protocol.md sections 3 and 7)."""
    state, version, last = chr(buf[0]), buf[1], chr(buf[2])
    if version == 0x65:  # proto.WIRE_VERSION: a ducorig slave
        i = "ZILBCNRE".find(state)
        k = " ?!#>^+".find(last)
        if i >= 0 and k >= 0:
            return "%s; last command %s" % (
                ("booted", "idle", "loading a job", "busy hashing", "done, nonce found", "done, nonce not found",
                 "refused its job", "job failed its CRC")[i],
                ("carried out", "unknown", "refused: not now", "malformed", "over-long", "chunk out of order",
                 "difficulty out of range")[k])
    elif protocol == "yaum" or version == 0x63:  # yaum: its state, 'c' after A, a command not yet run
        i = "IBC".find(state)
        if i >= 0:
            text = "yaum, " + ("idle", "busy", "done, a result waits")[i]
            if version == 0x63:
                text += ", cleared"
            return text if last == " " else text + ", command %s not run yet" % last
    return "not a status reply: " + hex_and_text(buf)


async def c_raw(con, n):
    if con.sel is None:
        await con.error("select a slave first: n#")
    elif con.rig.workers[con.sel].stats.state != "paused":
        await con.error("pause first (p): the worker owns the slave")
    else:
        con.want = 3 if n is None else n  # reply bytes, read after Enter (send_raw)
        con.buf = bytearray(31)  # a slave takes 31 bytes at most
        con.line = 0  # the console types the line into buf now
        con.out.write("raw %d> " % con.sel)


async def send_raw(con, data):
    """The raw line typed after n> (the console calls this on Enter)."""
    import asyncio

    addr = con.rig.workers[con.sel].cfg.address
    bus = con.rig.bus
    try:
        async with bus.lock:  # a session: write, wait, read
            bus.transfer(addr, data, None)
            if con.want:
                await asyncio.sleep(0.01)  # a Pro Mini builds some replies in loop()
                buf = bytearray(con.want)
                bus.transfer(addr, None, buf)
        await con.say("0x%02x replied %s" % (addr, hex_and_text(buf)) if con.want else "0x%02x: sent" % addr)
    except Exception as e:
        await con.error("0x%02x: %s" % (addr, e))


async def c_scan(con, n):
    bus = con.rig.bus
    async with bus.lock:  # one blocking scan, ~15 ms at 100 kHz
        found = bus.i2c.scan()
    known = [w.cfg.address for w in con.rig.workers]
    await con.say("found: " + (" ".join("%02x%s" % (a, "" if a in known else "?") for a in found) or "none"))
    missing = [a for a in known if a not in found]
    if missing:
        await con.say("missing: " + " ".join("%02x" % a for a in missing))


async def c_freq(con, n):
    bus = con.rig.bus
    cfg = con.rig.cfg.i2c
    if n is None:
        await con.say("I2C %d kHz" % (cfg.freq // 1000))
        return
    if n < 10:
        await con.error("f: 10..400 kHz")
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
    await con.say("I2C %d kHz" % n)


async def c_zero(con, n):
    con.rig.stats.reset()
    con.rig.bus.failures = 0
    await con.say("statistics and bus counters zeroed")


async def c_verbose(con, n):
    rig = con.rig
    rig.verbose = (not rig.verbose) if n is None else bool(n)
    await con.say("verbose " + ("on" if rig.verbose else "off"))


def shown(value):
    return "none" if value is None else "(empty)" if value == "" else str(value)


async def c_config(con, n):
    import gc

    loaded = "ducorig.config" in sys.modules
    from ducorig import config  # rig.main dropped it to save RAM

    cfg = config.masked(con.rig.cfg)
    if not loaded:
        sys.modules.pop("ducorig.config", None)
    for k in sorted(cfg):  # MicroPython's dicts have no order of their own
        v = cfg[k]
        if k == "slaves":
            continue
        if isinstance(v, dict):
            v = ", ".join("%s %s" % (part, shown(v[part])) for part in sorted(v))
        await con.say("%s: %s" % (k, shown(v)))
    slaves = ["0x%02x %s %s" % (s["address"], s["name"], s["protocol"]) for s in cfg["slaves"]]
    for i in range(0, len(slaves), 4):  # four a line: a wrap would split one
        await con.say(("slaves: " if i == 0 else "        ") + ", ".join(slaves[i:i + 4]))
    gc.collect()


async def c_wifi(con, n):
    try:
        import network
    except ImportError:
        await con.say("WiFi: not on this platform")
        return
    sta = network.WLAN(network.STA_IF)
    if not sta.isconnected():
        await con.say("WiFi: not connected (status %s)" % sta.status())
        return
    await con.say("WiFi: %s rssi %s" % (sta.ifconfig()[0], sta.status("rssi")))


async def c_reboot(con, n):
    if sys.platform != "esp8266":
        await con.say("reboot: not on this platform")
        return
    await con.say("rebooting")
    import machine

    machine.reset()


async def c_quit(con, n):
    await con.quit()


async def c_mem(con, n):
    """What a real rig has left: the GC heap, the SDK heap that holds lwIP's
    sockets, the bus time of one status poll and of one job write, and the
    event loop's worst lag."""
    rig = con.rig
    free = rig.stats.sample_heap()  # gc.collect(), then gc.mem_free()
    await con.say("heap: n/a on this port" if free is None else "heap: %d B free after gc.collect()" % free)
    try:
        import esp

        sdk = "%d B free" % esp.freemem()
    except ImportError:
        sdk = "n/a on this port"
    sockets = sum(1 for w in rig.workers if w.client.connected)
    await con.say("SDK heap (lwIP): %s; %d pool sockets open" % (sdk, sockets))
    i = 0 if con.sel is None else con.sel
    w = rig.workers[i]
    head = "slave %d (0x%02x)" % (i, w.cfg.address)
    if w.slave is None:
        await con.say(head + " status poll: not timed, the slave is not identified yet")
    elif w.slave.protocol != "ducorig":
        await con.say(head + " status poll: not timed, %s polls by a write and a read" % w.slave.protocol)
    else:
        # One read of the 3 status bytes, the I2C call of a worker's poll:
        # harmless mid-job, the status stays selected. Not inside a session
        # (scan, raw line, a yaum job load), as a worker would not.
        bus = rig.bus
        buf = bytearray(3)
        if bus.lock.locked():
            await bus.free()
        t = ticks_us()
        try:
            bus.transfer(w.cfg.address, None, buf)
            took = "%d us" % ticks_diff(ticks_us(), t)
        except Exception as e:
            took = "failed: %s" % e
        await con.say(head + " status poll: " + took)
    await con.say(head + " job write: %d us" % w.write_us)  # the last one (0: none yet)
    await con.say("loop lag: %d ms at worst over the last minute" % rig.worst_lag_ms())


# One row per command: (key, function, largest value or 0 for none, help), in
# the help's order. Per-slave commands act on the selection, or on every
# slave when none is selected.
CMDS = (
    ("?", c_help, 0, "this help"),
    ("o", c_over, 0, "overview: one line per slave"),
    ("d", c_detail, 0, "detail and phase timing of the selected slave(s)"),
    ("s", c_stats, 0, "rig statistics and free heap"),
    ("p", c_pause, 0, "pause the selected slave(s) after the current share"),
    ("g", c_go, 99999, "go: resume; n g: each selected mines n more shares, then pauses"),
    ("c", c_redial, 0, "reconnect the selected slave(s) to the pool"),
    ("X", c_reset, 0, "reset the selected slave(s) (ducorig X; yaum has none)"),
    ("S", c_status, 0, "the selected slave(s)' status, in words"),
    (">", c_raw, 32, "n>: raw command line to the selected slave, Enter sends, n reply bytes"),
    ("b", c_scan, 0, "scan the I2C bus"),
    ("f", c_freq, 400, "n f: I2C clock n kHz (10..400); f: show it"),
    ("z", c_zero, 0, "zero the statistics and the bus counters"),
    ("v", c_verbose, 1, "verbose share log: v toggles, 0v off, 1v on"),
    ("C", c_config, 0, "show the config (secrets masked)"),
    ("w", c_wifi, 0, "WiFi status"),
    ("R", c_reboot, 0, "reboot the ESP8266"),
    ("q", c_quit, 0, "stop mining (all sockets closed), back to the REPL"),
    ("m", c_mem, 0, "memory and timing: heaps, sockets, poll/write us, loop lag"),
)
