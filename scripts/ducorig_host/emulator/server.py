"""The pool's TCP side and the PoolEmulator object tying everything together.

asyncio.Protocol gives one data_received call per socket read, which is
exactly Node's `data` event: no line framing, coalesced segments stay merged.
"""
from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from typing import Any, Callable

from . import wire
from .books import Books, MinerStats
from .config import EmulatorConfig
from .faults import GARBAGE, FaultBoard, Faults
from .rest import RestServer
from .session import Kind, PoolContext, Reply, Session
from .tiers import TierTable

log = logging.getLogger(__name__)


class Outbox:
    """Writes one connection's replies in order, each no earlier than its due
    time, so injected latency and stalls never reorder the byte stream."""

    def __init__(self, transport: asyncio.Transport, on_write: Callable[[], None]) -> None:
        self._transport = transport
        self._on_write = on_write
        self._loop = asyncio.get_running_loop()
        self._queue: deque[tuple[float, bytes, bool]] = deque()
        self._task: asyncio.Task[None] | None = None

    def send(self, data: bytes, delay_s: float, close: bool) -> None:
        if delay_s <= 0 and not self._queue:
            self._write(data, close)
            return
        due = self._loop.time() + max(delay_s, 0.0)
        if self._queue:
            due = max(due, self._queue[-1][0])
        self._queue.append((due, data, close))
        if self._task is None:
            self._task = self._loop.create_task(self._drain())

    async def _drain(self) -> None:
        while self._queue:
            due, data, close = self._queue[0]
            await asyncio.sleep(max(due - self._loop.time(), 0.0))
            self._queue.popleft()
            self._write(data, close)
        self._task = None

    def _write(self, data: bytes, close: bool) -> None:
        if self._transport.is_closing():
            return
        self._transport.write(data)
        self._on_write()
        if close:
            self._transport.close()  # flushes the BAD line first, like Node's write+destroy

    def cancel(self) -> None:
        self._queue.clear()
        if self._task is not None:
            self._task.cancel()
            self._task = None


class MinerConnection(asyncio.Protocol):
    def __init__(self, emulator: PoolEmulator) -> None:
        self.emulator = emulator
        self.transport: asyncio.Transport | None = None
        self.session: Session | None = None
        self.outbox: Outbox | None = None
        self._idle: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol ------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        ip = str(peer[0]) if peer else "unknown"
        ctx = self.emulator.ctx
        self.session = Session(ctx, f"{ctx.rng.getrandbits(64):016x}", ip)
        self.outbox = Outbox(transport, self._touch)
        self.emulator.register(self)
        log.debug("%s: connected from %s", self.session.threadid, ip)
        self._touch()
        self._send(Reply(ctx.config.version + "\n", Kind.VERSION))

    def data_received(self, data: bytes) -> None:
        session, transport = self.session, self.transport
        assert session is not None and transport is not None
        if transport.is_closing():
            return
        ctx = self.emulator.ctx
        try:
            if session.awaiting_result and ctx.faults.take(session.threadid, session.username, "drop"):
                log.info("%s: fault: dropping the connection mid-share", session.threadid)
                transport.abort()
                return
            reply = session.handle(wire.decode(data))
        except Exception:  # a bug must cost one connection, never the server
            log.exception("%s: internal error, closing the connection", session.threadid)
            transport.abort()
            return
        self._touch()  # after handle(): the first JOB switches to the mining timeout
        if reply is not None:
            self._send(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._idle is not None:
            self._idle.cancel()
        if self.outbox is not None:
            self.outbox.cancel()
        if self.session is not None:
            log.debug("%s: closed (%s)", self.session.threadid, exc or "normally")
            self.session.close()
            self.emulator.unregister(self)

    # -- helpers -----------------------------------------------------------------
    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def _touch(self) -> None:
        """Traffic either way restarts the idle timer (Node socket.setTimeout)."""
        assert self.session is not None
        if self._idle is not None:
            self._idle.cancel()
        timeout = self.session.idle_timeout_s()
        self._idle = asyncio.get_running_loop().call_later(timeout, self._on_idle, timeout)

    def _on_idle(self, timeout: float) -> None:
        assert self.session is not None
        log.info("%s: idle for %.3g s, closing", self.session.threadid, timeout)
        self.abort()

    def _send(self, reply: Reply) -> None:
        session, outbox = self.session, self.outbox
        assert session is not None and outbox is not None
        ctx = self.emulator.ctx
        data = reply.text.encode()
        delay_s = self.emulator.reply_delay_s(session.username)
        if reply.kind in (Kind.JOB, Kind.FEEDBACK):
            if ctx.faults.take(session.threadid, session.username, "garbage"):
                log.info("%s: fault: garbage instead of %s", session.threadid, reply.kind.value)
                data = GARBAGE
            stall = ctx.faults.take(session.threadid, session.username, "stall")
            if stall is not None:
                log.info("%s: fault: stalling %s for %g s", session.threadid, reply.kind.value, stall.stall_s)
                delay_s += stall.stall_s
        outbox.send(data, delay_s, reply.close)


class PoolEmulator:
    """A local Duino-Coin pool (TCP) plus the REST API of its master (HTTP)."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        cfg = self.config
        self.ctx = PoolContext(
            config=cfg,
            tiers=TierTable(cfg.tiers, cfg.fallback_tier),
            books=Books(cfg.accounts),
            faults=FaultBoard(),
            rng=random.Random(cfg.seed),
            clock=time.monotonic,
            last_hash=cfg.initial_hash,
        )
        self.pool_port = 0
        self.http_port = 0
        self._server: asyncio.Server | None = None
        self._rest = RestServer(self)
        self._connections: dict[str, MinerConnection] = {}
        self._stopping = False

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        cfg = self.config
        self._server = await loop.create_server(lambda: MinerConnection(self), cfg.host, cfg.pool_port)
        self.pool_port = self._server.sockets[0].getsockname()[1]
        self.http_port = await self._rest.start(cfg.host, cfg.http_port)
        log.info("pool %s listening on %s:%d, REST on port %d", cfg.pool_name, cfg.host,
                 self.pool_port, self.http_port)

    async def stop(self) -> None:
        """Stop listening and close every connection."""
        self._stopping = True
        if self._server is not None:
            self._server.close()
        for conn in list(self._connections.values()):
            conn.abort()
        await self._rest.stop()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        await asyncio.sleep(0)  # let connection_lost callbacks run

    # -- registry (used by MinerConnection) ----------------------------------------
    def register(self, conn: MinerConnection) -> None:
        assert conn.session is not None
        self._connections[conn.session.threadid] = conn
        if self._stopping:  # accepted just before stop(): close it too
            conn.abort()

    def unregister(self, conn: MinerConnection) -> None:
        assert conn.session is not None
        self._connections.pop(conn.session.threadid, None)

    # -- latency -----------------------------------------------------------------
    def reply_delay_s(self, username: str | None) -> float:
        cfg = self.config
        rtt_ms, jitter_ms = cfg.user_latency.get(username or "", (cfg.rtt_ms, cfg.jitter_ms))
        jitter = self.ctx.rng.uniform(-jitter_ms, jitter_ms) if jitter_ms else 0.0
        return max(rtt_ms + jitter, 0.0) / 1000

    def set_latency(self, user: str | None = None, rtt_ms: float | None = None,
                    jitter_ms: float | None = None) -> tuple[float, float]:
        """Change the global latency, or one user's override; returns the result."""
        cfg = self.config
        current = cfg.user_latency.get(user, (cfg.rtt_ms, cfg.jitter_ms)) if user else (cfg.rtt_ms, cfg.jitter_ms)
        new = (current[0] if rtt_ms is None else float(rtt_ms),
               current[1] if jitter_ms is None else float(jitter_ms))
        if min(new) < 0:
            raise ValueError("rtt_ms and jitter_ms must be >= 0")
        if user:
            cfg.user_latency[user] = new
        else:
            cfg.rtt_ms, cfg.jitter_ms = new
        return new

    # -- faults ------------------------------------------------------------------
    def set_faults(self, user: str | None = None, threadid: str | None = None, **fault_fields: Any) -> Faults:
        """Arm or change the fault rule of one user or one connection."""
        rule = self.ctx.faults.set(user=user, threadid=threadid, **fault_fields)
        log.info("faults for %s: %s", f"user {user}" if user else f"thread {threadid}", rule)
        return rule

    def clear_faults(self) -> None:
        self.ctx.faults.clear()

    # -- accessors (call them on the emulator's loop) ------------------------------
    @property
    def books(self) -> Books:
        return self.ctx.books

    @property
    def connections(self) -> list[Session]:
        return [conn.session for conn in self._connections.values() if conn.session is not None]

    def miners(self, user: str) -> list[MinerStats]:
        return self.ctx.books.miners(user)

    def balance(self, user: str) -> float | None:
        return self.ctx.books.balance(user)

    def state(self) -> dict[str, Any]:
        cfg, books = self.config, self.ctx.books
        return {
            "pool": {"name": cfg.pool_name, "host": cfg.host, "pool_port": self.pool_port,
                     "http_port": self.http_port, "version": cfg.version,
                     "last_hash": self.ctx.last_hash},
            "accounts": {name: {"balance": acc.balance, "has_key": bool(acc.key)}
                         for name, acc in books.accounts.items()},
            "workers": {"users": dict(books.user_workers), "ips": dict(books.ip_workers)},
            "connections": [session.snapshot() for session in self.connections],
            "miners": [stats.to_dict() for stats in books.stats.values()],
            "faults": self.ctx.faults.dump(),
            "latency": {"rtt_ms": cfg.rtt_ms, "jitter_ms": cfg.jitter_ms,
                        "users": {u: list(v) for u, v in cfg.user_latency.items()}},
        }


async def serve(config: EmulatorConfig, ready: Callable[[PoolEmulator], None] | None = None) -> None:
    """Run an emulator until cancelled (Ctrl-C under asyncio.run)."""
    emulator = PoolEmulator(config)
    await emulator.start()
    try:
        if ready is not None:
            ready(emulator)
        await asyncio.Event().wait()
    finally:
        await emulator.stop()
