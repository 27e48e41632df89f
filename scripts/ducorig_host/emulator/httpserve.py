"""A minimal HTTP/1.1 JSON server on asyncio streams: one request per
connection, `Connection: close`, compact JSON with sorted keys (as Flask's
jsonify)."""
from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit

log = logging.getLogger(__name__)

MAX_HEAD = 16 * 1024
MAX_BODY = 64 * 1024
REQUEST_TIMEOUT_S = 10.0
REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 500: "Internal Server Error"}


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: bytes
    peer: str       # client address
    local: str      # the address the client connected to
    headers: dict[str, str] = field(default_factory=dict)


class BadRequest(Exception):
    pass


Handler = Callable[[Request], tuple[int, Any]]


def render(status: int, payload: Any) -> bytes:
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    head = (f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n")
    return head.encode("ascii") + body


async def read_request(reader: asyncio.StreamReader, peer: str, local: str) -> Request:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
        raise BadRequest(f"incomplete or oversized request head ({type(exc).__name__})") from None
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise BadRequest(f"bad request line {lines[0][:60]!r}")
    headers = {}
    for line in lines[1:]:
        if line:
            name, sep, value = line.partition(":")
            if not sep:
                raise BadRequest(f"bad header line {line[:60]!r}")
            headers[name.strip().lower()] = value.strip()
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError:
        raise BadRequest("bad Content-Length") from None
    if not 0 <= length <= MAX_BODY:
        raise BadRequest(f"body of {length} bytes refused")
    try:
        body = await reader.readexactly(length)
    except asyncio.IncompleteReadError:
        raise BadRequest("body shorter than Content-Length") from None
    target = urlsplit(parts[1])
    return Request(parts[0].upper(), target.path, dict(parse_qsl(target.query)), body, peer, local, headers)


class JsonHttpServer:
    def __init__(self, handler: Handler, error: Callable[[str], Any]) -> None:
        self._handler = handler
        self._error = error  # builds the error payload for a message
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> int:
        self._server = await asyncio.start_server(self._serve, host, port, limit=MAX_HEAD)
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        local = writer.get_extra_info("sockname")
        try:
            try:
                request = await asyncio.wait_for(
                    read_request(reader, str(peer[0]), str(local[0])), REQUEST_TIMEOUT_S)
                status, payload = self._handler(request)
            except BadRequest as exc:
                log.info("HTTP %s: bad request: %s", peer, exc)
                status, payload = 400, self._error(str(exc))
            except asyncio.TimeoutError:
                log.info("HTTP %s: request not complete within %g s", peer, REQUEST_TIMEOUT_S)
                return
            except Exception:
                log.exception("HTTP %s: handler failed", peer)
                status, payload = 500, self._error("Internal server error")
            writer.write(render(status, payload))
            await writer.drain()
        except ConnectionError:
            log.debug("HTTP %s: client went away", peer)
        finally:
            writer.close()
