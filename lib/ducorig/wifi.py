# WiFi for a headless ESP8266. The SDK keeps the station's network and
# password in flash and reconnects with them by itself, from boot on.
# connect(ssid, password) and active() rewrite that flash on every call, so
# each is made only when it changes something: a network already stored is
# waited for, never written again. Every wait polls (the loop runs on) and is
# bounded; a failure names the network and the SDK's reason.
#
# The station owns the link's state, as the event `link` (set while the
# station has its address), after the pattern of peterhinch's mqtt_as: one
# supervisor task (keep()) looks at the station once a second and alone
# reconnects it, with a back-off of its own, while the workers wait on the
# event instead of each retrying the pool. The station is the chip's
# (network.WLAN) or a double with the same methods (the sim's, the tests').
import asyncio

from ducorig.pool import backoff_ms
from ducorig.ticks import sleep_ms, ticks_diff, ticks_ms

POLL_MS = 100
# The station's status codes as the ESP8266 port has them (network.STAT_*:
# the SDK's station_status_t), here so that a double needs no network module.
IDLE, CONNECTING, WRONG_PASSWORD, NO_AP_FOUND, CONNECT_FAIL, GOT_IP = range(6)
_WHY = ("idle", "still connecting", "wrong password", "network not found", "connect failed")


def _why(status):
    """The SDK's station status in words, for the log."""
    return _WHY[status] if 0 <= status < len(_WHY) else "status %d" % status


def chip_station():
    """The chip's radio as a headless station wants it: its station interface."""
    import esp
    import network

    ap = network.WLAN(network.AP_IF)
    if ap.active():
        ap.active(False)  # on after a fresh flash (a known password); it slows the station's scans
    sta = network.WLAN(network.STA_IF)
    if not sta.active():
        sta.active(True)
    # Modem sleep adds latency and drops; WLAN.config(pm=) would also
    # rewrite the stored station config, esp.sleep_type does not.
    esp.sleep_type(esp.SLEEP_NONE)
    return sta


class Station:
    timeout_ms = 30000  # one attempt (the SDK takes 2-8 s); up() tries again
    check_ms = 1000  # how often keep() looks at the link, and up() during its pauses
    pause_ms = 60000  # the longest pause between two attempts

    def __init__(self, ssid, password, log, sta=None):
        """ssid "" (none in the config): the network stored in flash. sta:
        the station interface (None: the chip's, set up by chip_station())."""
        self.sta = chip_station() if sta is None else sta
        self.ssid = ssid
        self.password = password
        self.log = log
        self.written = False  # connect(ssid, password) ran: at most once a boot
        self.link = asyncio.Event()  # set while the station has its address

    async def connect(self):
        """One attempt of at most timeout_ms; OSError says why it failed."""
        sta = self.sta
        ssid = self.ssid
        if sta.isconnected() and (not ssid or sta.config("essid") == ssid):
            return
        if ssid and not self.written and sta.config("essid") != ssid:
            self._write()  # another network (or none) stored
        elif sta.status() != CONNECTING:
            sta.connect()  # the stored network, no flash write
        start = ticks_ms()
        while not sta.isconnected():
            status = sta.status()
            if status == WRONG_PASSWORD and ssid and not self.written:
                self._write()  # the stored password is refused: try the config's
            elif ticks_diff(ticks_ms(), start) >= self.timeout_ms:
                if status == CONNECTING:
                    sta.disconnect()  # a hung attempt (DHCP, say): the next one starts afresh
                raise OSError("WiFi: no connection to %s in %d s (%s)" % (
                    ssid or "the stored network", self.timeout_ms // 1000, _why(status)))
            await sleep_ms(POLL_MS)

    def _write(self):
        self.written = True
        self.sta.connect(self.ssid, self.password)  # stores both in flash

    async def up(self):
        """Connect, for as long as it takes (after a power cut the router may
        boot much slower than the ESP): attempts, with pauses between them
        that double from a second up to pause_ms, cut short when the SDK
        joins by itself. A failure is logged when its reason is new, not
        at every attempt. Then the link is set."""
        sta = self.sta
        failures = 0
        said = None
        start = ticks_ms()
        while True:
            try:
                await self.connect()
                break
            except OSError as e:
                failures += 1
                if str(e) != said:
                    said = str(e)
                    self.log("%s, trying again" % said)
            pause = backoff_ms(failures, self.check_ms, self.pause_ms)
            while pause > 0 and not sta.isconnected():
                await sleep_ms(min(pause, self.check_ms))
                pause -= self.check_ms
        took = ticks_diff(ticks_ms(), start) // 1000
        after = " after %d s" % took if took else ""
        self.log("WiFi: %s on %s%s" % (sta.ifconfig()[0], sta.config("essid"), after))
        self.link.set()

    async def keep(self):
        """The link supervisor, while the rig mines: a lost link clears the
        event (the workers wait on it) until up() has it back."""
        while True:
            await sleep_ms(self.check_ms)
            if not self.sta.isconnected():
                self.link.clear()
                self.log("WiFi: link lost (%s)" % _why(self.sta.status()))
                await self.up()

    async def supervise(self, rig):
        """Run the rig (the station up) with this link: its workers wait on
        it, and keep() supervises it until the rig stops."""
        rig.link = self.link
        keep = asyncio.create_task(self.keep())
        try:
            await rig.run()
        finally:
            keep.cancel()
