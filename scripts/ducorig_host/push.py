"""`ducorig push HOST [--password PW] [--port 8266] [--config FILE] [FILE ...]`:
update the rig over WiFi with WebREPL.

It sends the deploy set of `ducorig deploy` (the .mpy library without the
sim-only modules, boot.py and main.py, and config.json when `--config` is
given, checked first), or only the FILEs named, each by its device path
(`/lib/ducorig/rig.mpy`, `/main.py`) or by the source it is built from
(`lib/ducorig/rig.py`).

    ducorig push 192.168.1.50 --config my-config.json
    ducorig push rig.local lib/ducorig/worker.py

Limits of WebREPL (shared/micropython-esp8266.md 4.3, 4.4):
- it has to be set up over USB once (`import webrepl_setup`), and the first
  install is `ducorig deploy`: WebREPL cannot create directories, so
  `/lib/ducorig` must exist. It cannot delete files or reset the board
  either: reboot it afterwards (console key `R`) to load the new code;
- the ESP8266 refuses a WebREPL connection while 5 TCP connections are open
  (the rig holds one per slave), and serves one session at a time: stop the
  rig from the console (key `q`) first; transfers also stall the rig's loop;
- about 25 KB/s (the device pauses 20 ms per 512 bytes written).

The password is asked for when `--password` is not given."""
from __future__ import annotations

import argparse
import getpass
import sys
import tempfile
from pathlib import Path

from ducorig_host.deploy import DeployError, Staged, stage
from ducorig_host.webrepl import PORT, WebRepl, WebReplError


def select(staged: list[Staged], wanted: list[str]) -> list[Staged]:
    """The files of the deploy set named by device path or source path (all when none)."""
    if not wanted:
        return staged
    chosen = []
    for name in wanted:
        match = [s for s in staged if name == s.device or Path(name).resolve() == s.source.resolve()]
        if not match:
            raise DeployError(f"{name} is not in the deploy set: " + ", ".join(s.device for s in staged))
        chosen += match
    return chosen


def push(host: str, port: int, password: str, files: list[Staged], timeout: float) -> None:
    with WebRepl(host, port, timeout) as repl:
        repl.login(password)
        for s in files:
            data = s.local.read_bytes()
            repl.put(s.device, data)
            print(f"{s.device}: {len(data)} bytes")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("host", help="the ESP8266's address")
    parser.add_argument("files", nargs="*", metavar="FILE",
                        help="only these files: device path (/main.py) or source (lib/ducorig/rig.py)")
    parser.add_argument("--password", help="the WebREPL password (asked for when not given)")
    parser.add_argument("--port", type=int, default=PORT, help=f"WebREPL port (default {PORT})")
    parser.add_argument("--config", type=Path, help="config.json to send as well (checked first)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait on every read (default 10)")
    # `push HOST --password PW FILE ...`: plain parse_args rejects files after an option
    parser.parse_args = parser.parse_intermixed_args  # type: ignore[method-assign]


def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="ducorig-push-") as tmp:
        try:
            files = select(stage(Path(tmp), args.config), args.files)
            password = args.password if args.password is not None else getpass.getpass("WebREPL password: ")
            push(args.host, args.port, password, files, args.timeout)
        except (DeployError, WebReplError) as e:
            print(f"push: {e}", file=sys.stderr)
            return 1
    print(f"pushed {len(files)} files; reboot the board to load them (console key R)")
    return 0
