"""The `ducorig` command: one entry point, a table of subcommands.

Each subcommand lives in its own module with `add_arguments(parser)` and
`run(args) -> int`; modules are imported only when their command runs."""
from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "sim": ("ducorig_host.sim", "run the simulated rig against the local pool emulator"),
    "pool": ("ducorig_host.emulator.cli", "run the local Duino-Coin pool emulator (pool + REST API)"),
    "bench": ("ducorig_host.bench", "benchmarks that print figures (--json)"),
    "getpool": ("ducorig_host.getpool", "ask the REST API which pool node to mine on"),
    "portcheck": ("ducorig_host.portcheck", "check that lib/ uses nothing the ESP8266 port lacks"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ducorig", description="Duino-Coin mining-rig controller tools")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, description=help_text)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    if not argv or argv[0] not in COMMANDS:
        parser.parse_args(argv or ["--help"])  # prints usage or the error
        return 2
    module = importlib.import_module(COMMANDS[argv[0]][0])
    sub = argparse.ArgumentParser(prog=f"ducorig {argv[0]}", description=COMMANDS[argv[0]][1])
    module.add_arguments(sub)
    try:
        return module.run(sub.parse_args(argv[1:]))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
