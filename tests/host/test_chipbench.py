"""`ducorig bench chip`: the instrument on a short window, the exclusion of
the simulated bus from the count, the calibration, --fit, and the rules that
keep the count honest (no map() and no native code in the controller).
Tests that run valgrind skip without it, and fail under CI=true."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ducorig_host import chipbench
from ducorig_host.chipbench import Config, Part, controller_problems, largest_passing, least_squares
from ducorig_host.cli import main
from ducorig_host.simbus.bus import Bus
from ducorig_host.simbus.ducorig import DucorigSlave
from ducorig_host.simbus.server import BusServer
from ducorig_host.simbus.testrig import ducoid_for
from ducorig_host.simrig import LIB, micropython

WINDOW_S = 25.0
SLAVES = 10  # with the ready line: ~9 shares/s, enough for a per-share count within ~1.5 % in WINDOW_S
KEYS = {"slaves", "kind", "ready_line", "rtt_ms", "heap", "shares", "instructions_per_share",
        "allocations_per_share", "polls_per_share", "transfers_per_share", "wire_ms_per_share",
        "esp8266_ms_per_share", "esp8266_load", "efficiency", "free_heap_min", "rejected", "lost"}
# Loop passes per simulated-bus request: ~77k instructions, which makes each
# request ~2.5x as costly; counted, they would add more than a whole share.
# Far more (3000) slows every transfer under callgrind enough to change how
# the controller runs (fewer shares and polls): that moves the count too.
BURN = 300
# The count a share moves with the polls, which follow the host's timing: 5.2 % apart
# on a loaded machine (stop 20). The burn, counted, would add over 100 %.
TOLERANCE = 0.15


def require_valgrind() -> None:
    if shutil.which("valgrind") and shutil.which("callgrind_control"):
        return
    message = "valgrind missing: sudo make deps"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


# --- no valgrind needed --------------------------------------------------------

def test_the_controller_has_no_map_and_no_native_code() -> None:
    assert controller_problems() == []


def test_map_and_native_code_are_found_and_the_sim_module_is_exempt(tmp_path: Path) -> None:
    (tmp_path / "worker.py").write_text("import micropython\n\n@micropython.native\ndef f(x):\n"
                                        "    return list(map(str, x))\n")
    (tmp_path / "simi2c.py").write_text("calls = map(print, [])\n")
    (tmp_path / "pool.py").write_text("def map_it(mapping):\n    return mapping.map(1)\n")  # look-alikes
    problems = controller_problems(tmp_path)
    assert len(problems) == 2 and problems[0].startswith("worker.py:3: micropython.native")
    assert problems[1].startswith("worker.py:5: map()")


def test_bisection_finds_the_largest_passing_count() -> None:
    for limit in range(0, 21):
        tried: list[int] = []

        def passes(n: int) -> bool:
            tried.append(n)
            return n <= limit

        assert largest_passing(passes, 1, 20) == limit
        assert tried[0] == 1 and len(tried) <= 6


def test_least_squares_gives_intercept_and_slope() -> None:
    assert least_squares([(1, 90), (3, 70), (5, 50)]) == pytest.approx((100.0, -10.0))
    assert least_squares([(4, 1000), (4, 900)]) is None


def test_a_dump_part_counts_allocations_outside_the_excluded_calls() -> None:
    part = Part("events: Ir\nsummary: 1234\nfn=m_malloc\n5 10\ncfn=gc_alloc'm_malloc'f\ncalls=3 0\n5 40\n"
                "cfn=gc_alloc'm_malloc'g'map_iternext'h\ncalls=7 0\n5 0\ncfn=gc_free'm_free\ncalls=2 0\n5 8\n")
    assert (part.instructions, part.allocations) == (1234, 3)


def test_a_missing_valgrind_is_named_with_the_fix(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(chipbench.shutil, "which", lambda tool: None)
    assert main(["bench", "chip", "--calibrate"]) == 1
    assert capsys.readouterr().err.strip() == ("ducorig bench chip: valgrind not found: run `sudo make deps` "
                                               "(Debian package valgrind)")


def test_a_drifted_calibration_warns(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(chipbench, "calibrate", lambda: chipbench.CALIBRATION * 1.15)
    chipbench.check_calibration()
    assert "warning: the calibration loop takes 706 instructions per iteration, recorded 614" in capsys.readouterr().err
    monkeypatch.setattr(chipbench, "calibrate", lambda: chipbench.CALIBRATION * 1.05)
    chipbench.check_calibration()
    assert capsys.readouterr().err == ""


def test_bad_arguments_are_named_before_anything_runs(capsys: pytest.CaptureFixture[str]) -> None:
    for argv, why in ((["--slaves", "3,x"], "slave counts '3,x'"), (["--ready", "maybe"], "--ready 'maybe'"),
                      (["--fit", "12q"], "heap '12q'"), (["--most", "21"], "--most 1..20")):
        assert main(["bench", "chip", *argv]) == 1
        assert why in capsys.readouterr().err


# --- valgrind -------------------------------------------------------------------

def test_the_calibration_loop_matches_the_recorded_figure(capsys: pytest.CaptureFixture[str]) -> None:
    require_valgrind()
    assert main(["bench", "chip", "--calibrate"]) == 0
    measured = json.loads(capsys.readouterr().out)["instructions_per_iteration"]
    assert abs(measured / chipbench.CALIBRATION - 1) < chipbench.CALIBRATION_DRIFT


def _transfers_counted(server: BusServer, count: int, burn: int, toggled: bool, tmp_path: Path) -> int:
    """Instructions of `count` status write+read pairs through ducorig.simi2c."""
    out = tmp_path / f"callgrind.{count}.{burn}.{toggled}"
    code = (f"from ducorig.simi2c import SimI2C\ni2c = SimI2C('127.0.0.1:{server.port}', 100000)\n"
            f"buf = bytearray(3)\nfor _ in range({count}):\n    i2c.writeto(8, b'S')\n    i2c.readfrom_into(8, buf)\n")
    command = chipbench.valgrind_command(out) if toggled else ["valgrind", "--tool=callgrind",
                                                                f"--callgrind-out-file={out}"]
    # a fixed hash seed: CPython's start-up (the wrapper's) then counts the same each time
    env = dict(os.environ, MICROPYPATH=f"{LIB.parent}:.frozen", DUCORIG_SIMI2C_BURN=str(burn), PYTHONHASHSEED="0")
    subprocess.run([*command, micropython(), "-c", code], env=env, check=True, capture_output=True)
    return Part(out.read_text()).instructions


def test_a_simulated_transfer_counts_the_same_however_costly_the_sim(tmp_path: Path) -> None:
    require_valgrind()
    server = BusServer(Bus([DucorigSlave(8, ducoid_for("chipbench"))])).start()
    try:
        def per_pair(burn: int, toggled: bool) -> float:
            low, high = (_transfers_counted(server, n, burn, toggled, tmp_path) for n in (50, 550))
            return (high - low) / 500

        counted, burnt = per_pair(0, True), per_pair(BURN, True)
        seen = per_pair(BURN, False) - per_pair(0, False)
    finally:
        server.stop()
    assert seen > 2 * BURN * 50  # uncounted, the burn is plain to see: two requests a pair
    assert abs(burnt - counted) < 0.01 * counted, (counted, burnt)
    assert counted < 10000  # the counted part: two method calls, attribute stores, the loop


@pytest.fixture(scope="module")
def ready_rig() -> dict[str, Any]:
    """The instrument on SLAVES of our slaves with the ready line, a short window."""
    require_valgrind()
    return chipbench.measure(Config(SLAVES, "ducorig", True), chipbench.HEAP, WINDOW_S)


def test_the_instrument_gives_plausible_figures_per_share(ready_rig: dict[str, Any]) -> None:
    f = ready_rig
    assert KEYS <= f.keys()
    assert (f["slaves"], f["kind"], f["ready_line"], f["rtt_ms"], f["heap"]) == (SLAVES, "ducorig", True, 100.0,
                                                                                  "192k")
    assert f["shares"] >= 50 and f["rejected"] == 0 and f["lost"] == 0
    assert 1e5 < f["instructions_per_share"] < 1e8
    assert 10 < f["allocations_per_share"] < f["instructions_per_share"] / 100
    # a share: a 4-write job and its status check, the result, a clear; polls only when the line says so
    assert 1 <= f["polls_per_share"] < 10 and f["transfers_per_share"] >= 6
    wire = f["wire_ms_per_share"]
    assert set(wire) == {"100000", "400000"} and 0 < wire["400000"] < wire["100000"]
    for clock in ("100000", "400000"):
        low, middle, high = f["esp8266_ms_per_share"][clock]
        assert wire[clock] < low < middle < high
        for load, ms in zip(f["esp8266_load"][clock], (low, middle, high)):
            # from rounded figures (ms to 0.01, loads to 0.001): equal to a rounding step
            assert abs(load - ms * f["shares_per_s"] / 1000) <= 0.002, (clock, load, ms)
    assert 0.5 < f["efficiency"] <= 1.1
    assert 0 < f["free_heap_min"] < f["heap_bytes"]


def test_the_simulated_bus_is_not_in_the_count(ready_rig: dict[str, Any],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Each request of the sim costs BURN loop passes more: the count per
    share moves by less than TOLERANCE (the run-to-run spread is ~1.5 %, more when loaded),
    where the burn alone would add more than a share's instructions."""
    monkeypatch.setenv("DUCORIG_SIMI2C_BURN", str(BURN))
    burnt = chipbench.count(Config(SLAVES, "ducorig", True), chipbench.HEAP, WINDOW_S)
    per_share = burnt.instructions / burnt.shares
    assert abs(per_share / ready_rig["instructions_per_share"] - 1) < TOLERANCE, (
        per_share, ready_rig["instructions_per_share"])


def test_fit_finds_the_slaves_that_mine_at_a_heap(capsys: pytest.CaptureFixture[str]) -> None:
    require_valgrind()  # the run checks the calibration first
    assert main(["bench", "chip", "--fit", "192k", "--minutes", "0.6", "--most", "2"]) == 0
    f = json.loads(capsys.readouterr().out)
    assert {"heap", "max_slaves", "minutes", "heap_modules_bytes", "heap_per_slave_bytes"} <= f.keys()
    assert (f["heap"], f["max_slaves"], f["minutes"]) == ("192k", 2, 0.6)
    assert [r["slaves"] for r in f["runs"]] == [1, 2] and all(r["ok"] for r in f["runs"])
    assert 0 < f["heap_modules_bytes"] < 192 * 1024 and 0 < f["heap_per_slave_bytes"] < 20 * 1024


def test_the_text_fits_80_columns(ready_rig: dict[str, Any]) -> None:
    lines = chipbench.text(ready_rig).splitlines()
    assert len(lines) == 5 and all(len(line) <= 80 for line in lines), lines
