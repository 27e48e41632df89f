"""`ducorig push HOST [--password PW] [--port 8266] [--config FILE] [FILE ...]`:
update a rig's own files over WiFi with WebREPL.

It sends what changes per rig: boot.py and main.py, and config.json when
`--config` is given (checked first, as `ducorig deploy` checks it), or only
the FILEs named, each by its device path (`/main.py`, `/config.json`) or by
its source (`firmware/esp8266/main.py`, the config file).

Not the library: `ducorig deploy` installs it as a ROMFS image, in a flash
partition that WebREPL cannot write (it only puts files, and a `.mpy` put on
the filesystem would load into RAM the chip does not have). Library updates
go through `ducorig deploy` over USB; asking push for a library module says so.

    ducorig push 192.168.1.50 --config my-config.json
    ducorig push rig.local /main.py
    ducorig push rig.local -c my-config.json --dry-run   # what would be sent

Limits of WebREPL (MicroPython's extmod/modwebrepl.c and its ESP8266 REPL tutorial):
- it has to be set up over USB once (`import webrepl_setup`), after the first
  `ducorig deploy`. It cannot delete files or reset the board: reboot it
  afterwards (console key `R`) to load the new files;
- the ESP8266 refuses a WebREPL connection while 5 TCP connections are open
  (the rig holds one per slave), and serves one session at a time: stop the
  rig from the console (key `q`) first; transfers also stall the rig's loop;
- about 25 KB/s (the device pauses 20 ms per 512 bytes written).

The password is asked for on the terminal when `--password` is not given.
`--dry-run` checks the config and lists the files, and connects to nothing."""
from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from ducorig_host.cli import positive_number
from ducorig_host.deploy import DeployError, RootFile, root_files
from ducorig_host.simrig import LIB
from ducorig_host.webrepl import PORT, WebRepl, WebReplError


def select(files: list[RootFile], wanted: list[str]) -> list[RootFile]:
    """The root files named by device path or source path (all when none)."""
    if not wanted:
        return files
    chosen = []
    for name in wanted:
        match = [f for f in files if name == f.device or Path(name).resolve() == f.source.resolve()]
        if match:
            chosen += match
        elif Path(name).suffix == ".mpy" or Path(name).resolve().is_relative_to(LIB):
            raise DeployError(f"{name} is a library module: the library is in the ROMFS partition, which "
                              "WebREPL cannot write; update it over USB with `ducorig deploy`")
        else:
            raise DeployError(f"{name} is not a file push sends: " + ", ".join(f.device for f in files))
    return chosen


def push(host: str, port: int, password: str, files: list[RootFile], timeout: float) -> None:
    with WebRepl(host, port, timeout) as repl:
        repl.login(password)
        for f in files:
            data = f.source.read_bytes()
            repl.put(f.device, data)
            print(f"{f.device}: {len(data)} bytes")


def describe(host: str, port: int, files: list[RootFile]) -> str:
    width = max(len(f.device) for f in files)
    lines = [f"{f.device:<{width}}  {f.source.stat().st_size:>6} B  from {f.source}" for f in files]
    return "\n".join(lines + [f"dry run: nothing sent (would write to {host}:{port} with WebREPL)"])


def ask_password() -> str:
    """Asked on the terminal only: getpass would read a pipe or /dev/null
    with a warning that the password may echo, and fail at its end."""
    if not sys.stdin.isatty():
        raise DeployError("no password: give it with --password (stdin is not a terminal to ask on)")
    try:
        return getpass.getpass("WebREPL password: ")
    except EOFError:  # Ctrl-D at the prompt
        print(file=sys.stderr)  # end the prompt's line
        raise DeployError("no password given") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("host", help="the ESP8266's address")
    parser.add_argument("files", nargs="*", metavar="FILE",
                        help="only these root files: device path (/main.py) or source (firmware/esp8266/main.py); "
                        "not the library (that is `ducorig deploy`, over USB)")
    parser.add_argument("--password", help="the WebREPL password (asked for on the terminal when not given)")
    parser.add_argument("-p", "--port", type=int, default=PORT, help=f"WebREPL port (default {PORT})")
    parser.add_argument("-c", "--config", type=Path, help="config.json to send as well (checked first)")
    parser.add_argument("-n", "--dry-run", action="store_true",
                        help="check the config and list the files with their sizes; connect to nothing")
    parser.add_argument("-t", "--timeout", type=positive_number, default=10.0,
                        help="seconds to wait on every read (default 10)")
    # `push HOST --password PW FILE ...`: plain parse_args rejects files after an option
    parser.parse_args = parser.parse_intermixed_args  # type: ignore[method-assign]


def run(args: argparse.Namespace) -> int:
    try:
        files = select(root_files(args.config), args.files)
        if args.dry_run:
            print(describe(args.host, args.port, files))
            return 0
        password = args.password if args.password is not None else ask_password()
        push(args.host, args.port, password, files, args.timeout)
    except (DeployError, WebReplError) as e:
        print(f"push: {e}", file=sys.stderr)
        return 1
    print(f"pushed {len(files)} files; reboot the board to load them (console key R)")
    return 0
