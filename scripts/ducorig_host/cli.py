"""The `ducorig` command: one entry point, a table of subcommands.

Each subcommand lives in its own module with `add_arguments(parser)` and
`run(args) -> int`; modules are imported only when their command runs."""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from importlib import metadata
from typing import Callable

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "sim": ("ducorig_host.sim", "run the simulated rig against the local pool emulator"),
    "pool": ("ducorig_host.emulator.cli", "run the local Duino-Coin pool emulator (pool + REST API)"),
    "bench": ("ducorig_host.bench", "benchmarks that print figures (--json)"),
    "perf": ("ducorig_host.perf", "live balance, income and projected DUCO/day from the REST API"),
    "miners": ("ducorig_host.miners", "the user's miners as the server sees them, grouped by rig, with flags"),
    "check": ("ducorig_host.check", "check the account, the mining key and the worker limit (exit code)"),
    "getpool": ("ducorig_host.getpool", "ask the REST API which pool node to mine on"),
    "portcheck": ("ducorig_host.portcheck", "check that lib/ uses nothing the ESP8266 port lacks"),
    "deploy": ("ducorig_host.deploy", "install the rig on the ESP8266 over USB (mpremote), then reset it"),
    "push": ("ducorig_host.push", "send boot.py, main.py and config.json (not the library) over WiFi (WebREPL)"),
}
BROKEN_PIPE = 128 + 13  # what a shell reports for a program killed by SIGPIPE (`... | head`)


def version() -> str:
    try:
        return metadata.version("ducorig")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed: pip install -e .)"


def number(least: float, *, above: bool = False) -> Callable[[str], float]:
    """An option's type: a finite number, `least` or more (more than `least`
    if `above`)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not (least < value if above else least <= value) or value == float("inf"):
            raise argparse.ArgumentTypeError(f"{text!r}: must be {'more than' if above else 'at least'} {least:g}")
        return value

    return parse


positive_number = number(0, above=True)  # a timeout, an interval


def whole_number(least: int, most: int | None = None) -> Callable[[str], int]:
    """An option's type: a whole number, `least` or more, and at most `most`
    (a count, a margin, a port)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < least or (most is not None and value > most):
            bounds = f"{least}..{most}" if most is not None else f"{least} or more"
            raise argparse.ArgumentTypeError(f"{text!r}: must be {bounds}")
        return value

    return parse


def dispatch(prog: str, table: dict[str, tuple[str, str]], argv: list[str]) -> int:
    """Run the command argv[0] of `table` with the rest of argv."""
    if not argv or argv[0] not in table:
        parser = argparse.ArgumentParser(prog=prog)
        if prog == "ducorig":
            parser.add_argument("-V", "--version", action="version", version=f"%(prog)s {version()}")
        sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
        for name, (_, help_text) in table.items():
            sub.add_parser(name, help=help_text)
        parser.parse_args(argv or ["--help"])  # prints the usage or the error, and exits
        return 2
    module = importlib.import_module(table[argv[0]][0])
    parser = argparse.ArgumentParser(prog=f"{prog} {argv[0]}", description=table[argv[0]][1])
    module.add_arguments(parser)
    return module.run(parser.parse_args(argv[1:]))


def main(argv: list[str] | None = None) -> int:
    try:
        code = dispatch("ducorig", COMMANDS, sys.argv[1:] if argv is None else argv)
        sys.stdout.flush()  # a pipe closed early fails here, not in the interpreter's exit
        return code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`ducorig portcheck --rules | head`): stop quietly,
        # as CLIs killed by SIGPIPE do. Python would print an error flushing
        # stdout at exit, so stdout goes to /dev/null first.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
