"""Shared helpers for the emulator tests: a raw-socket miner built only from
the public pool and miner code (revoxhere/duino-coin-pools, revoxhere/duino-coin
AVR_Miner.py; no ducorig client code), and an emulator fixture."""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import urllib.error
import urllib.request
from dataclasses import dataclass, replace
from typing import Any, AsyncIterator, Callable

from ducorig_host.emulator import EmulatorConfig, PoolEmulator

USER = "alice"
DUCOID = "DUCOID5A3F1C0B99124E31"
SOFTWARE = "Official AVR Miner 4.3"
HASHRATE = "338.52"
READ_TIMEOUT_S = 5.0   # only bounds a failing test; assertions never use time


def make_config(**overrides: Any) -> EmulatorConfig:
    return replace(EmulatorConfig(seed=1234), **overrides)


@contextlib.asynccontextmanager
async def running(config: EmulatorConfig | None = None) -> AsyncIterator[PoolEmulator]:
    emulator = PoolEmulator(config or make_config())
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()


async def until(predicate: Callable[[], bool], what: str = "condition") -> None:
    """Wait for a server-side state change (polling, bounded)."""
    for _ in range(int(READ_TIMEOUT_S / 0.005)):
        if predicate():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass(frozen=True)
class Job:
    last_hash: str
    expected: str
    diff: int

    @classmethod
    def parse(cls, line: bytes) -> Job:
        last_hash, expected, diff = line.decode().rstrip("\n").split(",")
        return cls(last_hash, expected, int(diff))

    def solve(self) -> int:
        for nonce in range(100 * self.diff + 1):
            if hashlib.sha1(f"{self.last_hash}{nonce}".encode()).hexdigest() == self.expected:
                return nonce
        raise AssertionError(f"no nonce for {self}")


def result_line(nonce: int | str, hashrate: str = HASHRATE, software: str = SOFTWARE,
                rig: str = "None", ducoid: str | None = DUCOID, wd: str | None = None, end: str = "") -> str:
    """Default: the AVR_Miner 4.3 shape (revoxhere/duino-coin AVR_Miner.py), 5 fields, no newline.
    ducoid=None leaves field 4 out; wd adds field 5 (ESP style, with end="\n")."""
    fields = [str(nonce), hashrate, software, rig]
    fields += [ducoid] if ducoid is not None else []
    fields += [wd] if wd is not None else []
    return ",".join(fields) + end


class Miner:
    """A raw TCP client: each send() is one write (one segment on loopback)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, emulator: PoolEmulator, greet: bool = True) -> Miner:
        reader, writer = await asyncio.open_connection("127.0.0.1", emulator.pool_port)
        miner = cls(reader, writer)
        if greet:
            assert await miner.line() == b"2.5\n"
        return miner

    async def send(self, data: str | bytes) -> None:
        self.writer.write(data.encode() if isinstance(data, str) else data)
        await self.writer.drain()

    async def line(self) -> bytes:
        return await asyncio.wait_for(self.reader.readline(), READ_TIMEOUT_S)

    async def exactly(self, n: int) -> bytes:
        return await asyncio.wait_for(self.reader.readexactly(n), READ_TIMEOUT_S)

    async def job(self, user: str = USER, tier: str = "AVR", key: str = "None") -> Job:
        await self.send(f"JOB,{user},{tier},{key}")
        return Job.parse(await self.line())

    async def share(self, job: Job | None = None, **result: Any) -> str:
        """Request a job unless given one, answer it correctly, return the feedback."""
        job = job or await self.job()
        await self.send(result_line(job.solve(), **result))
        return (await self.line()).decode()

    async def closed(self) -> bool:
        """True when the server closed the connection with nothing more to read."""
        return await asyncio.wait_for(self.reader.read(), READ_TIMEOUT_S) == b""

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


def http(emulator: PoolEmulator, path: str, body: Any = None) -> tuple[int, Any, bytes]:
    """Blocking GET (or POST with a JSON body); run it in a thread."""
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(f"http://127.0.0.1:{emulator.http_port}{path}", data=data)
    try:
        with urllib.request.urlopen(request, timeout=READ_TIMEOUT_S) as response:
            raw = response.read()
            return response.status, json.loads(raw), raw
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        return exc.code, json.loads(raw), raw


async def ahttp(emulator: PoolEmulator, path: str, body: Any = None) -> tuple[int, Any, bytes]:
    return await asyncio.to_thread(http, emulator, path, body)
