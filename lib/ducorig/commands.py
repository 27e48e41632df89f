# The console's commands, their table and the help. The console
# (ducorig.console, resident) imports this module when a command letter
# arrives and drops it after the command ran, so its RAM (a function object per
# command, the table, the strings) is taken only while a command runs. Each
# command is an async function (con, n): con is the Console (say, error, sel,
# rig), n the number typed before the letter or None. docs/console.md is the
# user's page.
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


async def letter(con, key, n):
    """Run the command of key (one of console.LETTERS) with the value n."""
    for cmd in CMDS:
        if cmd[0] == key:
            top = cmd[2]
            if n is not None and n > top:
                if top:
                    await con.error("%s: %d is too large (max %d)" % (key, n, top))
                else:
                    await con.error("%s takes no number" % key)
                return
            try:
                await cmd[1](con, n)
            except Exception as e:  # a console bug must not stop mining
                await con.error("%s: %s %s" % (key, type(e).__name__, e))
            return


async def c_help(con, n):
    await con.say("n# select slave n (# alone: all); n before a letter is its value")
    for cmd in CMDS:
        await con.say(" %s  %s" % (cmd[0], cmd[3]))
    await con.say(" Bksp edits n, Esc clears, Ctrl-C stops (REPL)")


async def c_over(con, n):
    rig = con.rig
    for i, w in chosen(con):
        s = w.stats
        state = s.state  # "paused" once held at the gate (rig.gate)
        if w.quota == 0 and state != "paused":
            state = "pausing"  # finishing its current share
        elif w.quota:
            state = "+%d" % w.quota  # shares left before it pauses
        await con.say("%d %-6s %-8s %6.1fH/s A%d R%d busy%3d%% eff%3d%% %s" % (
            i, s.name[:6], state[:8], s.hashrate(), s.accepted, sum(s.rejected.values()),
            int(s.busy_fraction() * 100), int(100 * 0.96 ** i), (s.last_bad or "")[:16]))
    mode = "stopped" if not rig.running else "paused" if rig.held == len(rig.workers) else "mining"
    await con.say("%s, %d held%s" % (mode, rig.held, "" if con.sel is None else ", sel %d" % con.sel))


async def c_detail(con, n):
    from ducorig.stats import PHASES

    for i, w in chosen(con):
        s = w.stats
        await con.say("%d %s 0x%02x %s %s %s" % (i, s.name, s.address, s.protocol, s.ducoid, s.state))
        for k in range(len(PHASES)):
            await con.say("  %-6s n%d mean %.1f max %.1f ms" % ((PHASES[k],) + s.phase(k)))
        await con.say("  %.1fH/s polls %d blocks %d busy %d%%" % (
            s.hashrate(), s.polls, s.blocks, int(s.busy_fraction() * 100)))
        for name, table in (("rejected", s.rejected), ("lost", s.lost), ("errors", s.errors)):
            if table:
                await con.say("  %s %s" % (name, table))


async def c_stats(con, n):
    rig = con.rig
    rig.stats.sample_heap()
    t = rig.stats.totals()
    await con.say("A%d R%d lost %d, %.2f shares/s over %ds" % (
        t["accepted"], t["rejected"], t["lost"], t["shares_per_s"], int(t["elapsed_s"])))
    await con.say("overhead p50/p95 %s/%s ms; bus %d failed transfers" % (
        t["overhead_ms"][0], t["overhead_ms"][1], rig.bus.failures))
    await con.say("free heap %s (min %s); poll %d ms" % (t["free_heap"], t["free_heap_min"], rig.poll_ms))


async def c_pause(con, n):
    con.rig.pause([w for i, w in chosen(con)])
    await con.say("pausing %s after the current share" % which(con))


async def c_go(con, n):
    con.rig.resume([w for i, w in chosen(con)], n)
    text = "mining " + which(con)
    await con.say(text if n is None else text + ", %d more shares each" % n)


async def c_redial(con, n):
    for i, w in chosen(con):
        w.redial = True
    await con.say("reconnect after the current share")


async def c_reset(con, n):
    from ducorig.proto import RESET

    await transfer_each(con, RESET, None, "reset sent")


async def c_status(con, n):
    from ducorig.proto import STATUS

    await transfer_each(con, STATUS, bytearray(3), "status %s")


async def transfer_each(con, out, into, done):
    """One transfer to each selected slave; done (with %s: the bytes read)
    or the error per slave."""
    for i, w in chosen(con):
        try:
            con.rig.bus.transfer(w.cfg.address, out, into)
            await con.say("%d: " % i + (done if into is None else done % bytes(into)))
        except Exception as e:
            await con.error("%d: %s" % (i, e))


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
        await con.say("0x%02x: %s" % (addr, bytes(buf)) if con.want else "0x%02x: sent" % addr)
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
    await con.say("statistics zeroed")


async def c_verbose(con, n):
    rig = con.rig
    rig.verbose = (not rig.verbose) if n is None else bool(n)
    await con.say("verbose " + ("on" if rig.verbose else "off"))


async def c_config(con, n):
    import gc

    loaded = "ducorig.config" in sys.modules
    from ducorig import config  # rig.main dropped it to save RAM

    shown = config.masked(con.rig.cfg)
    if not loaded:
        sys.modules.pop("ducorig.config", None)
    for k in shown:
        v = shown[k]
        if k == "slaves":
            for s in v:
                await con.say(" slave 0x%02x %s %s" % (s["address"], s["name"], s["protocol"]))
        else:
            await con.say(" %s: %s" % (k, v))
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


# One row per command: (key, function, largest value or 0 for none, help). The
# keys are console.LETTERS, in this order (the help's). Per-slave commands act
# on the selection, or on every slave when none is selected.
CMDS = (
    ("?", c_help, 0, "this help"),
    ("o", c_over, 0, "overview: one line per slave"),
    ("d", c_detail, 0, "detail and phase timing of the selected slave(s)"),
    ("s", c_stats, 0, "rig statistics and free heap"),
    ("p", c_pause, 0, "pause the selected slave(s) after the current share"),
    ("g", c_go, 99999, "go: resume; n g: each selected mines n more, then pauses"),
    ("c", c_redial, 0, "reconnect the selected slave(s) to the pool"),
    ("X", c_reset, 0, "reset the selected slave(s) (protocol X)"),
    ("S", c_status, 0, "read the selected slave(s)' status bytes"),
    (">", c_raw, 32, "n>: raw command line to the selected slave, Enter sends, n reply bytes"),
    ("b", c_scan, 0, "scan the I2C bus"),
    ("f", c_freq, 400, "n f: I2C clock n kHz (10..400); f: show it"),
    ("z", c_zero, 0, "zero the statistics"),
    ("v", c_verbose, 1, "verbose share log: v toggles, 0v off, 1v on"),
    ("C", c_config, 0, "show the config (secrets masked)"),
    ("w", c_wifi, 0, "WiFi status"),
    ("R", c_reboot, 0, "reboot the ESP8266"),
    ("q", c_quit, 0, "stop mining (all sockets closed), back to the REPL"),
    ("m", c_mem, 0, "memory and timing: heaps, sockets, poll/write us, loop lag"),
)
