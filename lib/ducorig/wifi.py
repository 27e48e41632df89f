# WiFi for a headless ESP8266 (chip only: `network` and `esp` are the chip's).
# The SDK keeps the station's network and password in flash and reconnects
# with them by itself, from boot on. connect(ssid, password) and active()
# rewrite that flash on every call, so each is made only when it changes
# something: a network already stored is waited for, never written again.
# Every wait polls (the loop runs on) and is bounded; a failure names the
# network and the SDK's reason.
import asyncio

import esp
import network

from ducorig.ticks import ticks_diff, ticks_ms

POLL_MS = 100


def _why(status):
    """The SDK's station status in words, for the log."""
    for code, text in ((network.STAT_WRONG_PASSWORD, "wrong password"),
                       (network.STAT_NO_AP_FOUND, "network not found"),
                       (network.STAT_CONNECT_FAIL, "connect failed"),
                       (network.STAT_CONNECTING, "still connecting"),
                       (network.STAT_IDLE, "idle")):
        if status == code:
            return text
    return "status %d" % status


class Station:
    timeout_ms = 30000  # one attempt (the SDK takes 2-8 s); up() tries again
    check_ms = 5000  # how often keep() looks at the link

    def __init__(self, ssid, password, log):
        """The radio as a headless station wants it. ssid "" (none in the
        config): the network stored in flash."""
        ap = network.WLAN(network.AP_IF)
        if ap.active():
            ap.active(False)  # on after a fresh flash (a known password); it slows the station's scans
        self.sta = network.WLAN(network.STA_IF)
        if not self.sta.active():
            self.sta.active(True)
        # Modem sleep adds latency and drops; WLAN.config(pm=) would also
        # rewrite the stored station config, esp.sleep_type does not.
        esp.sleep_type(esp.SLEEP_NONE)
        self.ssid = ssid
        self.password = password
        self.log = log
        self.written = False  # connect(ssid, password) ran: at most once a boot

    async def connect(self):
        """One attempt of at most timeout_ms; OSError says why it failed."""
        sta = self.sta
        ssid = self.ssid
        if sta.isconnected() and (not ssid or sta.config("essid") == ssid):
            return
        if ssid and not self.written and sta.config("essid") != ssid:
            self._write()  # another network (or none) stored
        elif sta.status() != network.STAT_CONNECTING:
            sta.connect()  # the stored network, no flash write
        start = ticks_ms()
        while not sta.isconnected():
            status = sta.status()
            if status == network.STAT_WRONG_PASSWORD and ssid and not self.written:
                self._write()  # the stored password is refused: try the config's
            elif ticks_diff(ticks_ms(), start) >= self.timeout_ms:
                if status == network.STAT_CONNECTING:
                    sta.disconnect()  # a hung attempt (DHCP, say): the next one starts afresh
                raise OSError("WiFi: no connection to %s in %d s (%s)" % (
                    ssid or "the stored network", self.timeout_ms // 1000, _why(status)))
            await asyncio.sleep(POLL_MS / 1000)

    def _write(self):
        self.written = True
        self.sta.connect(self.ssid, self.password)  # stores both in flash

    async def up(self):
        """Connect, trying again after each timeout for as long as it takes:
        after a power cut the router may boot much slower than the ESP."""
        while True:
            try:
                await self.connect()
            except OSError as e:
                self.log("%s, trying again" % e)
                continue
            self.log("WiFi: %s on %s" % (self.sta.ifconfig()[0], self.sta.config("essid")))
            return

    async def keep(self):
        """While the rig mines: a lost link is logged and brought back (the
        SDK retries by itself; up() restarts an attempt that hangs)."""
        while True:
            await asyncio.sleep(self.check_ms / 1000)
            if not self.sta.isconnected():
                self.log("WiFi: link lost (%s)" % _why(self.sta.status()))
                await self.up()
