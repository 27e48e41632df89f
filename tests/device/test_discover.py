# Pool discovery on both runtimes: getPool from the emulator's REST API on
# loopback, every way an answer can be unusable, and the rig finding its pool
# by it: at start without a configured pool, and after connects to a dead
# node fail.
# mpunit: heapsize=512k
import asyncio
import os
import random

from ducorig.discover import DiscoveryError, get_pool, parse_reply, split_url
from test_rig import make_rig, run_until



def api_url():
    return os.getenv("DUCORIG_REST") + "/getPool"

URL_TEXT = "http://x/getPool"


def pool_address():
    host, port = os.getenv("DUCORIG_POOL").split(":")
    return host, int(port)


def reply(body, status=b"200 OK"):
    return b"HTTP/1.0 " + status + b"\r\nContent-Type: application/json\r\n\r\n" + body


def fails(raw, expected):
    try:
        parse_reply(URL_TEXT, raw)
    except DiscoveryError as e:
        assert expected in str(e), (expected, str(e))
        return
    raise AssertionError("no DiscoveryError for %r" % raw)


def test_urls_split_into_scheme_host_port_and_path():
    assert split_url("https://server.duinocoin.com/getPool") == (True, "server.duinocoin.com", 443, "/getPool")
    assert split_url("http://127.0.0.1:8080/getPool") == (False, "127.0.0.1", 8080, "/getPool")
    assert split_url("http://h") == (False, "h", 80, "/")
    for bad in ("ftp://h/x", "server.duinocoin.com/getPool", "http://"):
        try:
            split_url(bad)
        except ValueError:
            continue
        raise AssertionError(bad)


async def test_the_emulators_getpool_names_its_pool():
    assert await get_pool(api_url(), 5000) == pool_address()


def test_each_unusable_answer_is_a_clear_error():
    fails(reply(b'{"success": false, "message": "You\'re using a VPN", "server": "x"}'), "using a VPN")
    fails(reply(b"<html>Too Many Requests</html>", b"429 TOO MANY REQUESTS"), "HTTP 429")
    fails(reply(b"<html>not json</html>"), "not JSON")
    fails(reply(b'{"success": true, "ip": "1.2.3.4"}'), "incomplete answer")
    fails(reply(b'{"success": true, "ip": "1.2.3.4", "port": 70000}'), "incomplete answer")
    fails(b"", "no status line")
    fails(reply(b" " * 3000), "longer than")
    assert parse_reply(URL_TEXT, reply(b'{"success": true, "ip": "pool.example", "port": 6000}')) == (
        "pool.example", 6000)


async def test_a_refused_or_silent_api_is_a_clear_error():
    silent, port = await silent_server()
    try:
        for url, expected in (("http://127.0.0.1:1/getPool", "http://127.0.0.1:1/getPool: "),
                              ("http://127.0.0.1:%d/getPool" % port, "no answer in 300 ms")):
            try:
                await get_pool(url, 300)
            except DiscoveryError as e:
                assert str(e).startswith(url) and expected in str(e), str(e)
                continue
            raise AssertionError(url)
    finally:
        silent.close()
        await silent.wait_closed()


async def silent_server():
    """A server on loopback that takes connections and never answers; its port."""
    async def never_answer(reader, writer):
        await asyncio.sleep(1)
        writer.close()
        await writer.wait_closed()

    for _ in range(20):  # MicroPython's sockets cannot tell the port of a bind to 0
        port = 40000 + random.getrandbits(14)
        try:
            return await asyncio.start_server(never_answer, "127.0.0.1", port), port
        except OSError:
            continue
    raise AssertionError("no free port")


async def test_a_rig_without_a_pool_finds_it_and_mines():
    r = make_rig("rig-discover", slaves=(8,), pool={"discover": api_url()})
    slaves = await run_until(r, lambda ss: ss[0].accepted >= 2)
    assert slaves[0].rejected == {} and slaves[0].lost == {}
    assert "pool discovery: %s:%d" % pool_address() in r.out.lines[0]


async def test_connects_to_a_dead_node_end_in_a_new_getpool():
    # a stale pool in the config: nothing listens on port 1, connects are refused
    r = make_rig("rig-rediscover", slaves=(8, 9), pool={"host": "127.0.0.1", "port": 1, "discover": api_url()})
    r.cfg.pool.discover = None  # no getPool at start ...
    task = asyncio.create_task(r.run())
    await asyncio.sleep(0)
    r.cfg.pool.discover = api_url()  # ... only once the connects failed
    slaves = await run_until(r, lambda ss: all(s.accepted >= 1 for s in ss), task)
    assert r.rediscover_requests >= 1
    # the first worker with REDISCOVER_AFTER (3) refused connects in a row asks for all
    assert max(s.errors.get("pool: refused", 0) for s in slaves) >= 3, [s.errors for s in slaves]
    found = [line.strip() for line in r.out.lines if line.startswith("pool discovery: ")]
    assert found == ["pool discovery: %s:%d" % pool_address()], r.out.lines
