"""Helpers for the tests that run `ducorig` as a user does: in a subprocess,
with no terminal (its own session, stdin from /dev/null), so a prompt or a
traceback shows as it would in a script."""
from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from ducorig_host.configcheck import EXAMPLE

DUCORIG = [sys.executable, "-m", "ducorig_host.cli"]


def ctrl_c_reaches_it() -> None:
    """Popen's preexec_fn for a child a test stops with Ctrl-C (SIGINT), as
    in a terminal. A shell ignores SIGINT in the jobs it starts with & from
    a script (a CI run), and every child inherits that: the child would
    never see the test's Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
FILLED_IN = {"my-network": "home-net", "my-wifi-password": "wifi-secret", "my-duco-user": "alice",
             "my-mining-key": "s3cret"}


def ducorig(*args: str, timeout: float = 60, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*DUCORIG, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd,
                          stdin=subprocess.DEVNULL, start_new_session=True)


def failed_cleanly(result: subprocess.CompletedProcess[str], code: int) -> str:
    """The error output of a run that failed as it should: exit `code`, no
    traceback, and something on stderr that says why."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout and result.stderr.strip(), result.stderr
    return result.stderr


def filled_example(folder: Path) -> Path:
    """The example config with its placeholders replaced, as a user would."""
    text = EXAMPLE.read_text()
    for placeholder, value in FILLED_IN.items():
        text = text.replace(f'"{placeholder}"', f'"{value}"')
    path = folder / "config.json"
    path.write_text(text)
    return path


def ducorig_at_once(*argvs: list[str], timeout: float = 60) -> list[subprocess.CompletedProcess[str]]:
    """Several `ducorig` runs side by side (each waits out its retries alone)."""
    runs = [(argv, subprocess.Popen([*DUCORIG, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                    stdin=subprocess.DEVNULL, start_new_session=True)) for argv in argvs]
    results = []
    for argv, process in runs:
        out, err = process.communicate(timeout=timeout)
        results.append(subprocess.CompletedProcess(argv, process.returncode, out, err))
    return results
