# ducorig.wifi on both runtimes, against the fake WiFi chip of chipfakes.py:
# no flash write (connect(ssid, password), active()) unless it changes
# something, a bounded wait with a clear error, and a link that comes back.
# Deadlines are safety nets; assertions are on calls and log lines.
import asyncio

from chipfakes import FakeChip
from ducorig.ticks import ticks_diff, ticks_ms

SAFETY_MS = 10000


def station(chip, ssid="home", password="secret", timeout_ms=300):
    from ducorig.wifi import Station

    lines = []
    st = Station(ssid, password, lines.append)
    st.timeout_ms = timeout_ms
    st.check_ms = 20
    return st, lines


async def until(cond, what):
    start = ticks_ms()
    while not cond():
        assert ticks_diff(ticks_ms(), start) < SAFETY_MS, what
        await asyncio.sleep(0.01)


async def test_joined_to_the_configured_network_nothing_is_written():
    with FakeChip() as chip:
        chip.ap = ("home", "secret")
        chip.sta.boot("home", "secret", joined=True)
        st, lines = station(chip)
        await st.up()
        assert chip.sta.calls == []  # no connect(), no active(): no flash write
        assert lines == ["WiFi: 192.168.4.7 on home"]


async def test_the_stored_network_being_joined_at_boot_is_waited_for():
    with FakeChip() as chip:
        chip.ap = ("home", "secret")
        chip.sta.boot("home", "secret")  # the SDK joins it by itself
        st, lines = station(chip)
        await st.up()
        assert chip.sta.calls == [] and chip.sta.isconnected()


async def test_the_access_point_goes_off_and_modem_sleep_too():
    with FakeChip() as chip:
        chip.ap = ("home", "secret")
        chip.sta.boot("home", "secret", joined=True)
        station(chip)
        assert chip.ap_if.calls == [("active", False)] and not chip.ap_if.active()
        assert chip.sleep_types == [0]  # esp.SLEEP_NONE
        station(chip)  # the next boot: already off, not written again
        assert chip.ap_if.calls == [("active", False)]


async def test_another_network_stored_one_connect_with_the_config():
    with FakeChip() as chip:
        chip.ap = ("home", "secret")
        chip.sta.boot("old", "pw")
        st, lines = station(chip)
        await st.up()
        assert chip.sta.calls == [("connect", "home", "secret")]
        assert lines == ["WiFi: 192.168.4.7 on home"]


async def test_nothing_stored_one_connect_with_the_config():
    with FakeChip() as chip:
        chip.ap = ("home", "secret")
        st, lines = station(chip)
        await st.up()
        assert chip.sta.writes() == [("active", True), ("connect", "home", "secret")]
        assert chip.sta.isconnected()


async def test_a_refused_stored_password_is_replaced_once():
    with FakeChip() as chip:
        chip.ap = ("home", "new")
        chip.sta.boot("home", "old")
        st, lines = station(chip, password="new")
        await st.up()
        assert chip.sta.calls == [("connect", "home", "new")]


async def test_a_timeout_is_a_clear_error_within_its_bound():
    with FakeChip() as chip:
        chip.sta.boot("home", "secret")  # the network is out of reach
        st, lines = station(chip)
        start = ticks_ms()
        try:
            await st.connect()
            raise AssertionError("no error")
        except OSError as e:
            assert str(e) == "WiFi: no connection to home in 0 s (network not found)", str(e)
        assert ticks_diff(ticks_ms(), start) < 2000
        assert chip.sta.calls == []


async def test_a_hung_attempt_is_stopped_at_the_timeout():
    with FakeChip() as chip:
        chip.ap = ("home", "secret")
        chip.sta.boot("home", "secret")
        chip.sta.join_ms = 10 ** 6  # e.g. no DHCP answer
        st, lines = station(chip)
        try:
            await st.connect()
            raise AssertionError("no error")
        except OSError as e:
            assert str(e) == "WiFi: no connection to home in 0 s (still connecting)", str(e)
        assert chip.sta.calls == [("disconnect",)]  # the next attempt starts afresh


async def test_up_tries_again_until_the_network_is_there_writing_once():
    with FakeChip() as chip:
        chip.ap = ("home", "other")  # the config's password is wrong too
        st, lines = station(chip, timeout_ms=100)
        task = asyncio.create_task(st.up())
        await until(lambda: chip.sta.calls.count(("connect",)) >= 2, "three failed attempts")
        assert lines == ["WiFi: no connection to home in 0 s (wrong password), trying again"]  # once, not a flood
        assert not st.link.is_set()
        chip.ap = ("home", "secret")  # the router is fixed
        await until(task.done, "connected")
        assert lines[-1].startswith("WiFi: 192.168.4.7 on home") and len(lines) == 2, lines
        assert chip.sta.writes() == [("active", True), ("connect", "home", "secret")]
        assert st.link.is_set()


async def test_the_pauses_between_attempts_double_and_end_when_the_sdk_joins():
    with FakeChip() as chip:
        from ducorig import wifi

        chip.sta.boot("home", "secret")  # the router is off
        st, lines = station(chip, timeout_ms=60)
        st.check_ms = 7  # a pause's step (an attempt polls every wifi.POLL_MS)
        st.pause_ms = 10 ** 6
        pauses = {}  # the SDK's connects so far -> the pause steps after that attempt
        real = wifi.sleep_ms

        async def sleep(ms):
            if ms <= st.check_ms:
                n = chip.sta.calls.count(("connect",))  # the first attempt waits for the SDK's own
                pauses[n] = pauses.get(n, 0) + 1
                if n == 3 and pauses[n] == 2:
                    chip.ap = ("home", "secret")  # back in a pause: the SDK joins by itself
            await real(ms)

        wifi.sleep_ms = sleep
        try:
            await st.up()
        finally:
            wifi.sleep_ms = real
        # the pause after failure f: 7 ms << (f - 1), plus up to a quarter
        assert pauses[0] in (1, 2) and pauses[1] in (2, 3) and pauses[2] in (4, 5), pauses
        assert pauses[3] == 2 and chip.sta.calls.count(("connect",)) == 3 and st.link.is_set()
        assert lines == ["WiFi: no connection to home in 0 s (network not found), trying again",
                         "WiFi: 192.168.4.7 on home"]


async def test_keep_logs_a_lost_link_and_brings_it_back():
    with FakeChip() as chip:
        chip.ap = ("home", "secret")
        chip.sta.boot("home", "secret", joined=True)
        st, lines = station(chip)
        task = asyncio.create_task(st.keep())
        try:
            chip.sta.drop()
            chip.ap = None  # the router is off for a while
            await until(lambda: len(lines) >= 2, "lost, then a failed attempt")
            assert lines[0] == "WiFi: link lost (idle)", lines
            assert lines[1] == "WiFi: no connection to home in 0 s (network not found), trying again"
            assert not st.link.is_set()  # the workers wait on it
            chip.ap = ("home", "secret")
            await until(lambda: lines[-1].startswith("WiFi: 192.168.4.7 on home"), "back")
            assert ("connect",) in chip.sta.calls and chip.sta.writes() == []
            assert st.link.is_set() and len(lines) == 3, lines
        finally:
            task.cancel()


async def test_no_ssid_configured_uses_the_stored_network():
    with FakeChip() as chip:
        chip.sta.boot("home", "secret")
        st, lines = station(chip, ssid="", password="")
        try:
            await st.connect()
            raise AssertionError("no error")
        except OSError as e:
            assert str(e) == "WiFi: no connection to the stored network in 0 s (network not found)"
        chip.ap = ("home", "secret")
        await st.up()
        assert chip.sta.writes() == [] and chip.sta.isconnected()
