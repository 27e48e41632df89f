"""The REST API (duino-coin/duco-rest-api app.py) and the /_emulator/ control endpoints."""
from __future__ import annotations

import asyncio
import json

from typing import AsyncIterator

import pytest
from test_emulator_support import USER, Miner, ahttp, make_config, result_line, running

from ducorig_host.emulator import PoolEmulator

SERVER = "duino-master-1"
BALANCE_FIELDS = {"username", "balance", "verified", "created", "stake_date", "stake_amount", "last_login"}
API_MINER_FIELDS = {"threadid", "username", "hashrate", "sharetime", "accepted", "rejected", "diff",
                    "software", "identifier", "algorithm", "pool", "wd", "ki"}
# The emulator adds these to every REST miner object (the real API does not).
MINER_FIELDS = API_MINER_FIELDS | {"ducoid", "tier", "zero_reward"}


@pytest.fixture
async def emu() -> AsyncIterator[PoolEmulator]:
    async with running(make_config(accounts={USER: None, "keyed": "k3y"})) as emulator:
        yield emulator


async def test_unknown_user_is_an_error_envelope_with_http_200(emu: PoolEmulator) -> None:
    for path in ("/users/nobody", "/v2/users/nobody", "/balances/nobody", "/miners/nobody",
                 "/mining_key?u=nobody&k=x"):
        status, body, _ = await ahttp(emu, path)
        assert (status, body) == (200, {"message": "This user doesn't exist", "success": False,
                                        "server": SERVER})


async def test_users_and_balances_before_mining(emu: PoolEmulator) -> None:
    status, body, raw = await ahttp(emu, f"/users/{USER}?limit=5")
    assert status == 200 and body["success"] is True and body["server"] == SERVER
    result = body["result"]
    assert set(result) == {"balance", "miners", "transactions"}
    assert set(result["balance"]) == BALANCE_FIELDS
    assert result["balance"]["username"] == USER and result["balance"]["balance"] == 0
    assert result["miners"] == [] and result["transactions"] == []
    # Compact JSON with sorted keys, as Flask's jsonify.
    assert raw == json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    _, v2, _ = await ahttp(emu, f"/v2/users/{USER}")
    assert set(v2["result"]) == {"balance", "miners", "transactions", "prices"}
    _, balances, _ = await ahttp(emu, f"/balances/{USER}")
    assert balances["result"] == result["balance"]


async def test_miners_error_when_none_then_listed_and_balance_grows(emu: PoolEmulator) -> None:
    _, body, _ = await ahttp(emu, f"/miners/{USER}")
    assert body == {"message": f"No miners detected for: {USER}", "success": False, "server": SERVER}
    miner = await Miner.connect(emu)
    for _ in range(12):
        assert await miner.share() == "GOOD\n"
    _, body, _ = await ahttp(emu, f"/miners/{USER}")
    (listed,) = body["result"]
    assert set(listed) == MINER_FIELDS and listed["accepted"] == 12
    (session,) = emu.connections
    assert listed["threadid"] == session.threadid
    assert (listed["ducoid"], listed["tier"], listed["zero_reward"]) == (session.ducoid, "AVR", 0)
    assert listed["ducoid"].startswith("DUCOID")
    _, body, _ = await ahttp(emu, f"/users/{USER}")
    assert body["result"]["balance"]["balance"] == pytest.approx(emu.balance(USER)) and emu.balance(USER) > 0
    assert body["result"]["miners"] == [listed]
    _, v2, _ = await ahttp(emu, f"/v2/users/{USER}")
    assert v2["result"]["miners"] == [listed]


async def test_miners_show_zero_reward_shares(emu: PoolEmulator) -> None:
    miner = await Miner.connect(emu)
    for _ in range(11):
        assert await miner.share() == "GOOD\n"
    # Past 10 accepted shares a changed DUCOID answers GOOD but is booked rejected, unpaid.
    assert await miner.share(ducoid="DUCOID0000000000000000") == "GOOD\n"
    _, body, _ = await ahttp(emu, f"/users/{USER}")
    (listed,) = body["result"]["miners"]
    assert (listed["accepted"], listed["rejected"], listed["zero_reward"]) == (12, 1, 1)


async def test_get_pool_points_at_this_emulator(emu: PoolEmulator) -> None:
    status, body, _ = await ahttp(emu, "/getPool")
    assert status == 200
    assert body == {"name": "ducorig-emulator", "ip": "127.0.0.1", "port": emu.pool_port,
                    "server": SERVER, "client": "127.0.0.1", "success": True}


async def test_mining_key(emu: PoolEmulator) -> None:
    cases = {f"/mining_key?u={USER}&k=None": {"success": True, "has_key": False},
             "/mining_key?u=keyed&k=k3y": {"success": True, "has_key": True},
             "/mining_key?u=keyed&k=nope": {"success": False, "has_key": True}}
    for path, expected in cases.items():
        assert (await ahttp(emu, path))[1] == expected


async def test_unknown_path_is_a_json_404(emu: PoolEmulator) -> None:
    status, body, _ = await ahttp(emu, "/statistics_nope")
    assert status == 404 and body["success"] is False and body["server"] == SERVER


async def test_state_dump(emu: PoolEmulator) -> None:
    miner = await Miner.connect(emu)
    await miner.share()
    status, body, _ = await ahttp(emu, "/_emulator/state")
    state = body["result"]
    assert status == 200 and state["pool"]["pool_port"] == emu.pool_port
    (conn,) = state["connections"]
    assert (conn["username"], conn["accepted"], conn["state"]) == (USER, 1, "await_request")
    assert state["workers"] == {"users": {USER: 1}, "ips": {"127.0.0.1": 1}}


async def test_faults_over_http(emu: PoolEmulator) -> None:
    status, body, _ = await ahttp(emu, "/_emulator/faults",
                                  {"user": USER, "bad_burst": 1, "bad_reason": "Injected"})
    assert status == 200 and body["result"]["bad_burst"] == 1
    miner = await Miner.connect(emu)
    assert await miner.share() == "BAD,Injected\n"
    assert await miner.share() == "GOOD\n"
    for bad in (b"{not json", {"user": USER, "nonsense": 1}, {"drop": 1}, {"user": USER, "drop": -1}, [1]):
        status, body, _ = await ahttp(emu, "/_emulator/faults", bad)
        assert status == 400 and body["success"] is False
    status, body, _ = await ahttp(emu, "/_emulator/faults", {"clear": True})
    assert body["result"] == {"users": {}, "threads": {}}


async def test_latency_over_http(emu: PoolEmulator) -> None:
    status, body, _ = await ahttp(emu, "/_emulator/latency", {"user": USER, "rtt_ms": 5})
    assert (status, body["result"]) == (200, {"rtt_ms": 5.0, "jitter_ms": 0.0})
    assert emu.config.user_latency == {USER: (5.0, 0.0)}
    status, _, _ = await ahttp(emu, "/_emulator/latency", {"rtt": 5})
    assert status == 400


async def test_malformed_http_requests_get_400(emu: PoolEmulator) -> None:
    for request in (b"NONSENSE\r\n\r\n", b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
                    b"GET /x HTTP/1.1\r\n" + b"H: " + b"a" * 20000 + b"\r\n\r\n"):
        reader, writer = await asyncio.open_connection("127.0.0.1", emu.http_port)
        writer.write(request)
        response = await reader.read()
        assert response.startswith(b"HTTP/1.1 400 "), response[:40]
        writer.close()
    # The miner side never noticed.
    miner = await Miner.connect(emu)
    job = await miner.job()
    await miner.send(result_line(job.solve()))
    assert await miner.line() == b"GOOD\n"
