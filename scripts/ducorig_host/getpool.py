"""Pool discovery: ask the REST API which pool node to mine on (protocol.md §4)."""
from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request
from dataclasses import dataclass

PUBLIC_API = "https://server.duinocoin.com"


class PoolDiscoveryError(Exception):
    pass


@dataclass(frozen=True)
class PoolAddress:
    name: str
    host: str
    port: int


def get_pool(api: str = PUBLIC_API, timeout_s: float = 10.0) -> PoolAddress:
    """GET <api>/getPool; the node's `ip` may be a hostname."""
    url = api.rstrip("/") + "/getPool"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as reply:
            body = json.loads(reply.read().decode("utf-8", "replace"))
    except (urllib.error.URLError, OSError) as e:
        raise PoolDiscoveryError(f"{url}: {e}") from e
    except ValueError as e:
        raise PoolDiscoveryError(f"{url}: not JSON: {e}") from e
    if not isinstance(body, dict) or not body.get("success"):
        message = body.get("message", "no message") if isinstance(body, dict) else body
        raise PoolDiscoveryError(f"{url}: {message}")
    try:
        return PoolAddress(str(body["name"]), str(body["ip"]), int(body["port"]))
    except (KeyError, TypeError, ValueError) as e:
        raise PoolDiscoveryError(f"{url}: incomplete answer {body!r}") from e


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api", default=PUBLIC_API, help="REST API base URL (default: the public API)")


def run(args: argparse.Namespace) -> int:
    try:
        pool = get_pool(args.api)
    except PoolDiscoveryError as e:
        print(f"getPool failed: {e}")
        return 1
    print(f"{pool.name} {pool.host}:{pool.port}")
    return 0
