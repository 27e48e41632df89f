"""Helpers for the host-tool tests (perf, miners, check, the REST client):
* a fake clock, so time-based logic is tested by values, never by waiting;
* a rig of simulated AVRs that mine on the pool emulator through the device
  pool client and stay connected (the API lists only connected miners);
* a scripted HTTP server for what the emulator cannot produce: 429, 403,
  HTML pages, malformed JSON, Infinity, dropped connections, success:false.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any, Iterator

import pytest

from ducorig.pool import ConnectLimiter, PoolClient
from ducorig_host.avrclient import SimulatedAvr, ducoid_for
from ducorig_host.emulator import EmulatorConfig, EmulatorThread
from ducorig_host.rest import RestClient

START = 1_800_000_000.0  # fake wall-clock start
REWARDED_SHARES = 12     # rewards start after 10 accepted shares, booked every 2nd
WAIT_S = 30.0            # only bounds a failing test


class FakeClock:
    """time() and monotonic() move only when sleep() is called or advance()."""

    def __init__(self, start: float = START) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


def fake_client(base_url: str, clock: FakeClock, **options: Any) -> RestClient:
    options.setdefault("interval_s", 20.0)
    return RestClient(base_url, clock=clock.time, sleep=clock.sleep, **options)


def parse_args(module: ModuleType, argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    return parser.parse_args(argv)


# -- the emulator with miners on it -------------------------------------------------
ACCOUNTS = {"alice": "s3cret", "bob": None, "carol": "right-key"}


def start_emulator() -> EmulatorThread:
    # A long idle timeout: the miners sit connected between a test's requests.
    return EmulatorThread(EmulatorConfig(seed=5, accounts=dict(ACCOUNTS), mining_idle_timeout_s=3600)).start()


class MiningRig:
    """SimulatedAvr miners (no hashing delay) on their own event loop."""

    def __init__(self, emulator: EmulatorThread) -> None:
        self.port = emulator.pool_port
        self.limiter = ConnectLimiter()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.miners: list[SimulatedAvr] = []

    def add(self, user: str, key: str | None = None, rig: str = "rig-1", wallet_id: int | None = None,
            hashrate: float = 340.0, software: str = "ducorig I2C test", shares: int = REWARDED_SHARES) -> SimulatedAvr:
        client = PoolClient("127.0.0.1", self.port, user, key=key, software=software, rig=rig,
                            wallet_id=wallet_id, limiter=self.limiter)
        avr = SimulatedAvr(client, ducoid_for(len(self.miners)), hashrate, simulate_hashing=False)
        self.miners.append(avr)
        self.mine(avr, shares)
        return avr

    def mine(self, avr: SimulatedAvr, shares: int) -> None:
        """`shares` more accepted shares; the connection stays open."""
        async def work() -> None:
            target = avr.stats.accepted + shares
            while avr.stats.accepted < target:
                await avr.mine_one()

        asyncio.run_coroutine_threadsafe(work(), self.loop).result(WAIT_S)

    def close(self) -> None:
        async def close_all() -> None:
            for avr in self.miners:
                await avr.client.close()

        asyncio.run_coroutine_threadsafe(close_all(), self.loop).result(WAIT_S)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(WAIT_S)
        self.loop.close()


def rest_url(emulator: EmulatorThread) -> str:
    return f"http://127.0.0.1:{emulator.http_port}"


# -- the scripted API ---------------------------------------------------------------------
@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False       # close the connection without an answer
    truncate: bool = False   # announce more body than is sent, then close
    hold: bool = False       # answer only when the server is released (a timeout)


def json_reply(payload: Any, status: int = 200) -> Reply:
    return Reply(status, json.dumps(payload).encode(), {"Content-Type": "application/json"})


def envelope(result: Any) -> Reply:
    return json_reply({"result": result, "success": True, "server": "duino-master-1"})


def refusal(message: str) -> Reply:
    return json_reply({"message": message, "success": False, "server": "duino-master-1"})


def html(status: int, title: str, headers: dict[str, str] | None = None) -> Reply:
    page = f"<!doctype html><html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>"
    return Reply(status, page.encode(), {"Content-Type": "text/html", **(headers or {})})


def miner_json(n: int, **fields: Any) -> dict[str, Any]:
    miner = {"accepted": 100 + n, "algorithm": "DUCO-S1", "diff": 6, "hashrate": 340.0, "identifier": "rig-1",
             "ki": 1, "pool": "test-pool", "rejected": 0, "sharetime": 1.5, "software": "ducorig I2C 0.1",
             "threadid": f"{n:016x}", "username": "alice", "wd": 2811}
    miner.update(fields)
    return miner


def user_result(balance: float = 12.5, miners: list[dict[str, Any]] | None = None,
                **balance_fields: Any) -> dict[str, Any]:
    return {"balance": {"balance": balance, "username": "alice", "verified": "yes", **balance_fields},
            "miners": miners or [], "transactions": []}


class ScriptedApi:
    """A loopback HTTP server answering each path from a script: the replies
    are used in order, the last one repeats. Unscripted paths get a 404."""

    def __init__(self, script: dict[str, list[Reply]] | None = None) -> None:
        self.script: dict[str, list[Reply]] = dict(script or {})
        self.requests: list[str] = []
        self.release = threading.Event()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                api.requests.append(self.path)
                api.answer(self)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def set(self, path: str, *replies: Reply) -> None:
        self.script[path] = list(replies)

    def next_reply(self, path: str) -> Reply:
        replies = self.script.get(path.split("?", 1)[0]) or self.script.get(path)
        if not replies:
            return json_reply({"message": "Not found", "success": False}, 404)
        return replies.pop(0) if len(replies) > 1 else replies[0]

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        reply = self.next_reply(handler.path)
        if reply.hold:
            self.release.wait(WAIT_S)
        if reply.drop:
            handler.close_connection = True
            handler.connection.close()
            return
        handler.send_response(reply.status)
        for name, value in reply.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(reply.body) + (100 if reply.truncate else 0)))
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(reply.body)
        handler.close_connection = True

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


# -- fixtures (imported by the test modules) -------------------------------------------------
@dataclass
class World:
    """The emulator with alice's miners online: rig-1 (3 boards, wallet id 2811)
    and desk-nano (420 H/s: its first share is rejected and it moves to MEGA);
    carol mines with a wrong key, so the master lists nothing of hers."""
    emulator: EmulatorThread
    rig: MiningRig

    @property
    def url(self) -> str:
        return rest_url(self.emulator)


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    emulator = start_emulator()
    rig = MiningRig(emulator)
    try:
        for _ in range(3):
            rig.add("alice", key="s3cret", rig="rig-1", wallet_id=2811)
        rig.add("alice", key="s3cret", rig="desk-nano", hashrate=420.0, software="Official AVR Miner 4.3")
        rig.add("carol", key="wrong-key", rig="carol-rig")
        yield World(emulator, rig)
    finally:
        rig.close()
        emulator.stop()


@pytest.fixture
def scripted() -> Iterator[ScriptedApi]:
    api = ScriptedApi()
    try:
        yield api
    finally:
        api.close()
