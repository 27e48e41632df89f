# The link supervisor with the rig, on both runtimes: the station's event
# (wifi.Station.link) goes down with the station, the workers wait on it
# instead of backing off and asking for the pool again, and when it is back
# each mines again after one connect. The chip's station is chipfakes'
# FakeWLAN (the router's power is chip.ap); the sim's is simi2c.SimStation
# (down while its file exists). Deadlines are safety nets; assertions count
# connects, errors and shares.
# mpunit: heapsize=512k
import asyncio
import os
from binascii import hexlify

from chipfakes import FakeChip
from test_rig import make_rig, until


def count_connects(rig):
    """The pool connects of each worker, counted as they happen."""
    counts = [0] * len(rig.workers)
    for i, w in enumerate(rig.workers):
        def counted(i=i, connect=w.client.connect):
            counts[i] += 1
            return connect()

        w.client.connect = counted
    return counts


async def on_the_chips_station(rig, chip):
    """The station up and supervising the rig's link: the running task."""
    from ducorig.wifi import Station

    chip.ap = ("home", "secret")
    chip.sta.boot("home", "secret", joined=True)
    st = Station("home", "secret", rig.log)
    st.check_ms = 20  # a second on the chip
    st.timeout_ms = 200  # an attempt: 30 s on the chip
    await st.up()
    return asyncio.create_task(st.supervise(rig))


def said(rig, text):
    return [line for line in rig.out.lines if text in line]


async def test_workers_wait_for_the_link_and_mine_again_after_one_connect():
    with FakeChip() as chip:
        r = make_rig("link-chip", slaves=(8, 9))
        connects = count_connects(r)
        task = await on_the_chips_station(r, chip)
        slaves = r.stats.slaves
        try:
            await until(lambda: all(s.accepted >= 2 for s in slaves), "mining")
            chip.sta.drop()
            chip.ap = None  # the router is off
            await until(lambda: all(s.state == "offline" for s in slaves), "waiting for the link")
            held, before = [s.accepted for s in slaves], list(connects)
            await until(lambda: chip.sta.calls.count(("connect",)) >= 3, "the supervisor's attempts")
            assert [s.accepted for s in slaves] == held and connects == before  # nobody tries the pool
            chip.ap = ("home", "secret")
            await until(lambda: all(s.accepted >= h + 2 for s, h in zip(slaves, held)), "mining again")
            assert [n - b for n, b in zip(connects, before)] == [1, 1]
        finally:
            r.stop()
            await task
        # a loaded machine may time out a pool exchange: nothing else may go wrong
        assert r.rediscover_requests == 0, r.out.lines
        assert all(set(s.errors) <= {"pool: timeout"} and s.lost == {} for s in slaves), r.out.lines
        assert len(said(r, "WiFi: link lost")) == 1 and len(said(r, "trying again")) == 1, r.out.lines


async def test_pool_failures_while_the_link_is_down_neither_back_off_nor_ask_for_the_pool():
    # the chip's view of a router that goes off: connects fail, then the
    # station notices; the workers stop failing and wait for the link
    with FakeChip() as chip:
        r = make_rig("link-refused", slaves=(8, 9))
        live = r.workers[0].client.port
        for w in r.workers:
            w.client.port = 1  # nothing listens there
        connects = count_connects(r)
        task = await on_the_chips_station(r, chip)
        slaves = r.stats.slaves
        try:
            await until(lambda: all(s.errors.get("pool: refused") for s in slaves), "a failed connect each")
            chip.sta.drop()
            chip.ap = None
            await until(lambda: all(s.state == "offline" for s in slaves), "waiting for the link")
            failed, before = [dict(s.errors) for s in slaves], list(connects)
            # ~4 s of outage: back-offs of 1, 2 and 4 s would have had 3
            # failures each, and a request for the pool
            await until(lambda: chip.sta.calls.count(("connect",)) >= 8, "the supervisor's attempts")
            assert [s.errors for s in slaves] == failed and connects == before
            for w in r.workers:
                w.client.port = live
            chip.ap = ("home", "secret")
            await until(lambda: all(s.accepted >= 1 for s in slaves), "mining")
            assert [n - b for n, b in zip(connects, before)] == [1, 1]  # at once: no back-off left
        finally:
            r.stop()
            await task
        assert r.rediscover_requests == 0 and [s.errors for s in slaves] == failed


async def test_a_pool_step_that_fails_while_the_link_is_down_is_not_counted_against_the_pool():
    # the emulator stalls this user's jobs: every job request times out, and
    # the third in a row would ask for the pool again; it fails while the
    # link is down
    with FakeChip() as chip:
        r = make_rig("fault-stall", slaves=(8,), pool_timeout_ms=500)
        task = await on_the_chips_station(r, chip)
        s = r.stats.slaves[0]
        try:
            await until(lambda: s.errors.get("pool: timeout") == 2 and s.state == "connect", "a third request")
            chip.sta.drop()
            chip.ap = None
            await until(lambda: s.errors.get("pool: timeout") == 3, "its timeout")
            await until(lambda: s.state == "offline", "waiting for the link")
        finally:
            r.stop()
            await task
        assert r.rediscover_requests == 0


async def test_the_sims_station_is_down_while_its_file_exists():
    from ducorig import simi2c

    path = "/tmp/ducorig-link-%s" % hexlify(os.urandom(4)).decode()
    r = make_rig("link-sim", slaves=(8,))
    connects = count_connects(r)
    task = asyncio.create_task(simi2c.online(r, path))  # rig.main's runner in the sim
    s = r.stats.slaves[0]
    try:
        await until(lambda: s.accepted >= 1, "mining")
        open(path, "w").close()  # the access point is gone
        await until(lambda: s.state == "offline", "waiting for the link")
        held = s.accepted
        assert not r.link.is_set() and connects == [1]
        os.remove(path)
        await until(lambda: s.accepted > held, "mining again")
        assert connects == [2]
    finally:
        r.stop()
        await task
        try:
            os.remove(path)
        except OSError:
            pass
    assert r.out.lines[0] == "WiFi: 127.0.0.1 on sim\n"
    assert said(r, "WiFi: link lost") == ["WiFi: link lost (network not found)\n"], r.out.lines
