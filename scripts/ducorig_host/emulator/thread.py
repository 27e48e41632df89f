"""Run a PoolEmulator on its own event loop in a daemon thread, for
synchronous callers (tests, tools that are not asyncio)."""
from __future__ import annotations

import asyncio
import inspect
import threading
from types import TracebackType
from typing import Any, Callable

from .config import EmulatorConfig
from .server import PoolEmulator

CALL_TIMEOUT_S = 30.0


class EmulatorThread:
    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.emulator = PoolEmulator(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def pool_port(self) -> int:
        return self.emulator.pool_port

    @property
    def http_port(self) -> int:
        return self.emulator.http_port

    def start(self) -> EmulatorThread:
        """Start the thread; returns once both ports are bound."""
        if self._thread is not None:
            raise RuntimeError("already started")
        self._thread = threading.Thread(target=self._run, name="ducorig-pool", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._thread.join()
            raise RuntimeError("the pool emulator failed to start") from self._error
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            try:
                loop.run_until_complete(self.emulator.start())
            except BaseException as exc:  # reported to start()'s caller
                self._error = exc
                return
            self._loop = loop
            self._ready.set()
            loop.run_forever()
            loop.run_until_complete(self.emulator.stop())
        finally:
            self._ready.set()
            loop.close()

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float = CALL_TIMEOUT_S) -> Any:
        """Run fn(*args) on the emulator's loop (awaiting it when it returns an
        awaitable) and return its result: the thread-safe way to use the API."""
        if self._loop is None:
            raise RuntimeError("not running")

        async def invoke() -> Any:
            result = fn(*args)
            return await result if inspect.isawaitable(result) else result

        return asyncio.run_coroutine_threadsafe(invoke(), self._loop).result(timeout)

    def stop(self) -> None:
        """Close every connection and both listeners, then end the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._loop = None
        loop.call_soon_threadsafe(loop.stop)
        thread.join()

    def __enter__(self) -> EmulatorThread:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
