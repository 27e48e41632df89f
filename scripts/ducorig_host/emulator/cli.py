"""`ducorig pool`: run the emulator from the command line until Ctrl-C."""
from __future__ import annotations

import argparse
import asyncio
import logging
from typing import Sequence

from ..cli import number, whole_number
from .config import EmulatorConfig
from .server import PoolEmulator, serve
from .tiers import DEFAULT_TIERS, Tier, parse_tier


def _user(spec: str) -> tuple[str, str | None]:
    name, sep, key = spec.partition(":")
    if not name or "," in spec:
        raise argparse.ArgumentTypeError(f"user {spec!r}: expected NAME[:KEY] without commas")
    return name, (key if sep and key else None)


def tier_option(spec: str) -> Tier:
    """argparse type of --tier (here and in ducorig sim)."""
    try:
        return parse_tier(spec)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = EmulatorConfig()
    tiers = ", ".join(f"{t.name}:{t.diff}:{t.min_hashrate:g}:{t.max_hashrate:g}" for t in DEFAULT_TIERS)
    parser.add_argument("--host", default=defaults.host,
                        help="address to listen on (default %(default)s; 0.0.0.0 lets a LAN device in)")
    port = whole_number(0, 65535)
    parser.add_argument("-p", "--port", type=port, default=0, help="pool TCP port (default: any free port)")
    parser.add_argument("--http-port", type=port, default=0, help="REST API port (default: any free port)")
    parser.add_argument("-u", "--user", action="append", type=_user, default=[], metavar="NAME[:KEY]",
                        help="register an account, optionally with a mining key (repeatable); "
                             "unregistered users are created when they first mine")
    parser.add_argument("--tier", action="append", type=tier_option, default=[], metavar="NAME:DIFF:MIN:MAX[:DIV]",
                        help=f"difficulty tier in up/down order (repeatable, replaces the defaults: {tiers})")
    parser.add_argument("--rtt", type=number(0), default=0.0, metavar="MS",
                        help="delay before every reply (default 0)")
    parser.add_argument("--jitter", type=number(0), default=0.0, metavar="MS",
                        help="+- random delay on top of --rtt (default 0)")
    parser.add_argument("--max-workers", type=int, default=defaults.max_workers, metavar="N",
                        help="workers (connections) a user may mine with; beyond it every share gets "
                             "BAD,Too many workers (default %(default)d, as the real pool; 0: no limit)")
    parser.add_argument("--max-shares-per-minute", type=int, default=defaults.max_shares_per_minute, metavar="N",
                        help="results a connection may send per minute; beyond it they get "
                             "BAD,Too low difficulty (default %(default)d)")
    parser.add_argument("--block-chance", type=int, default=0, metavar="N",
                        help="1 in N accepted shares is a BLOCK (default 0: never)")
    parser.add_argument("--seed", type=int, default=None, help="seed the RNG for repeatable runs (default: random)")


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    return EmulatorConfig(
        host=args.host, pool_port=args.port, http_port=args.http_port,
        tiers=tuple(args.tier) or DEFAULT_TIERS, accounts=dict(args.user),
        rtt_ms=args.rtt, jitter_ms=args.jitter, max_workers=args.max_workers,
        max_shares_per_minute=args.max_shares_per_minute, block_chance=args.block_chance, seed=args.seed,
    )


def _announce(emulator: PoolEmulator) -> None:
    host = emulator.config.host
    print(f"pool  {host}:{emulator.pool_port}", flush=True)
    print(f"REST  http://{host}:{emulator.http_port}/", flush=True)
    print("Ctrl-C to stop", flush=True)


def run(args: argparse.Namespace) -> int:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        asyncio.run(serve(config_from_args(args), _announce))
    except KeyboardInterrupt:
        print("stopped", flush=True)
    except OSError as exc:  # port in use, bad --host
        logging.getLogger(__name__).error("cannot start the pool: %s", exc)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ducorig pool", description="Local Duino-Coin pool emulator")
    add_arguments(parser)
    return run(parser.parse_args(argv))
