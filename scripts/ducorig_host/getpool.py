"""Pool discovery: ask the REST API which pool node to mine on
(duino-coin/duco-rest-api app.py, getpool)."""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

from ducorig_host.rest import DEFAULT_TIMEOUT_S, PUBLIC_API, ApiError, RestClient, api_url
from ducorig_host.cli import positive_number


class PoolDiscoveryError(Exception):
    pass


@dataclass(frozen=True)
class PoolAddress:
    name: str
    host: str
    port: int


def get_pool(api: str = PUBLIC_API, timeout_s: float = DEFAULT_TIMEOUT_S) -> PoolAddress:
    """GET <api>/getPool, once (the caller asks again if it wants); the node's
    `ip` may be a hostname. getPool answers with top-level fields, no envelope."""
    try:
        body = RestClient(api, timeout_s=timeout_s, retries=0).get_json("/getPool")
    except ApiError as e:
        raise PoolDiscoveryError(str(e)) from None
    if not isinstance(body, dict) or not body.get("success"):
        message = body.get("message", "no message") if isinstance(body, dict) else body
        raise PoolDiscoveryError(f"{api}/getPool: {message}")
    try:
        return PoolAddress(str(body["name"]), str(body["ip"]), int(body["port"]))
    except (KeyError, TypeError, ValueError):
        raise PoolDiscoveryError(f"{api}/getPool: incomplete answer {str(body)[:120]}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-a", "--api", type=api_url, default=PUBLIC_API, metavar="URL",
                        help="REST API base URL (default: the public API; 127.0.0.1:PORT for the emulator)")
    parser.add_argument("-t", "--timeout", type=positive_number, default=DEFAULT_TIMEOUT_S, metavar="S",
                        help="seconds to wait for the answer (default %(default)g)")


def run(args: argparse.Namespace) -> int:
    try:
        pool = get_pool(args.api, args.timeout)
    except PoolDiscoveryError as e:
        print(f"ducorig getpool: {e}", file=sys.stderr)
        return 1
    print(f"{pool.name} {pool.host}:{pool.port}")
    return 0
