"""The master's REST API as far as monitoring tools use it
(duino-coin/duco-rest-api app.py), served from the emulator's books, plus the
emulator's own control endpoints under /_emulator/ (loopback clients only)."""
from __future__ import annotations

import ipaddress
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from .httpserve import JsonHttpServer, Request

if TYPE_CHECKING:
    from .server import PoolEmulator

SERVER_NAME = "duino-master-1"
# Invented exchange prices in the shape of /v2/users (duco-rest-api app.py).
PRICES = {"bch": 3.0e-05, "furim": 0.0, "max": 0.00025, "nano": 1.0e-05, "nodes": 0.0,
          "pancake": 5.2e-05, "sunswap": 1.0e-05, "sushi": 5.9e-05, "trx": 8.0e-05, "xmg": 0.00025}
NO_USER = "This user doesn't exist"

Response = tuple[int, Any]


def success(result: Any) -> dict[str, Any]:
    return {"result": result, "success": True, "server": SERVER_NAME}


def error(message: str) -> dict[str, Any]:
    return {"message": message, "success": False, "server": SERVER_NAME}


class RestApi:
    def __init__(self, emulator: PoolEmulator) -> None:
        self.emulator = emulator

    def __call__(self, request: Request) -> Response:
        parts = tuple(unquote(p) for p in request.path.strip("/").split("/"))
        if parts[0] == "_emulator":
            return self._control(request, parts)
        if request.method == "GET":
            if len(parts) == 2 and parts[0] in ("users", "balances", "miners"):
                return 200, self._user_view(parts[0], parts[1])
            if len(parts) == 3 and parts[0] in ("v2", "v3") and parts[1] == "users":
                return 200, self._user_view("v2", parts[2])
            if parts == ("getPool",):
                return 200, self._get_pool(request)
            if parts == ("mining_key",):
                return 200, self._mining_key(request.query)
        return 404, error(f"Not found: {request.method} {request.path}")

    def _user_view(self, view: str, username: str) -> dict[str, Any]:
        books = self.emulator.books
        account = books.accounts.get(username)
        if account is None:
            return error(NO_USER)
        miners = [stats.api() for stats in books.miners(username)]
        if view == "balances":
            return success(account.balance_object())
        if view == "miners":
            return success(miners) if miners else error(f"No miners detected for: {username}")
        result: dict[str, Any] = {"balance": account.balance_object(), "miners": miners, "transactions": []}
        if view == "v2":
            result["prices"] = PRICES
        return success(result)

    def _get_pool(self, request: Request) -> dict[str, Any]:
        # No envelope: getPool answers with top-level fields (app.py, getpool).
        return {"name": self.emulator.config.pool_name, "ip": request.local,
                "port": self.emulator.pool_port, "server": SERVER_NAME,
                "client": request.peer, "success": True}

    def _mining_key(self, query: dict[str, str]) -> dict[str, Any]:
        account = self.emulator.books.accounts.get(query.get("u", ""))
        if account is None:
            return error(NO_USER)
        has_key = bool(account.key)
        return {"success": not has_key or query.get("k") == account.key, "has_key": has_key}

    # -- /_emulator/ ---------------------------------------------------------------
    def _control(self, request: Request, parts: tuple[str, ...]) -> Response:
        if not ipaddress.ip_address(request.peer.split("%")[0]).is_loopback:
            return 403, error("The emulator's control endpoints are for loopback clients only")
        action = (request.method, parts[1] if len(parts) == 2 else "")
        if action == ("GET", "state"):
            return 200, success(self.emulator.state())
        if action not in (("POST", "faults"), ("POST", "latency")):
            return 404, error(f"Not found: {request.method} {request.path}")
        try:
            body = json.loads(request.body or b"{}")
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            return 200, success(self._faults(body) if action[1] == "faults" else self._latency(body))
        except (ValueError, TypeError) as exc:
            return 400, error(str(exc))

    def _faults(self, body: dict[str, Any]) -> dict[str, Any]:
        """{"user"|"threadid": ..., fault fields...} or {"clear": true}."""
        if body.pop("clear", False):
            self.emulator.clear_faults()
            if not body:
                return self.emulator.ctx.faults.dump()
        rule = self.emulator.set_faults(user=body.pop("user", None), threadid=body.pop("threadid", None), **body)
        return rule.to_dict()

    def _latency(self, body: dict[str, Any]) -> dict[str, Any]:
        """{"user": optional, "rtt_ms": ..., "jitter_ms": ...}."""
        unknown = set(body) - {"user", "rtt_ms", "jitter_ms"}
        if unknown:
            raise ValueError(f"unknown latency field(s): {', '.join(sorted(unknown))}")
        rtt_ms, jitter_ms = self.emulator.set_latency(body.get("user"), body.get("rtt_ms"), body.get("jitter_ms"))
        return {"rtt_ms": rtt_ms, "jitter_ms": jitter_ms}


class RestServer(JsonHttpServer):
    def __init__(self, emulator: PoolEmulator) -> None:
        super().__init__(RestApi(emulator), error)
