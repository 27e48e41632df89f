"""The sim's dashboard at 80x24 with 20 slaves, and the summary after Ctrl-C.

The frames are checked from synthetic reports (long BAD reasons, error
states, large counts), then on a real run in tmux at 80x24: every line fits,
nothing is cut to '…', the title says how to stop and how long is left,
and after Ctrl-C the summary shows the figures of the last frame."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ducorig_host.dashboard import WIDTH, Dashboard, Figures, shorten
from ducorig_host.simbus.bus import Traffic
from ducorig_host.simrig import Report
from ducorig_host.tmuxterm import TmuxTerminal

ROOT = Path(__file__).resolve().parents[2]
DUCORIG = str(Path(sys.executable).with_name("ducorig"))
SAFETY_S = 60  # a net for a hung run, not a measure
LONGEST_BAD = "Too high starting difficulty"  # the pool's longest BAD reason (revoxhere/duino-coin-pools)
STATES = ["hash", "submit", "paused", "internal error", "pool error", "identify"]


def slave(i: int) -> dict:
    return {"name": f"pm{i}", "address": 8 + i, "state": STATES[i % len(STATES)], "protocol": "ducorig",
            "accepted": 12345 + i, "rejected": {"Too many workers": 1234}, "lost": {"slave failed": 99},
            "polls": 987654, "last_bad": LONGEST_BAD if i % 2 else "Incorrect result", "hashrate": 339.9,
            "busy": 0.9876, "phases": {p: [12345, 1234.5, 9999] for p in ("job", "i2c", "hash", "submit")}}


def report(slaves: int = 20) -> Report:
    """The widest figures an hour at 20 slaves gives (~170 transfers/s,
    ~0.25 s of wire time a second), a 1 MB heap, overhead at the top of the
    rig's histogram (401 ms)."""
    rig = {"elapsed_s": 3599.0, "accepted": 246900, "rejected": 24680, "lost": 1980, "shares_per_s": 68.59,
           "overhead_ms": [401, 401], "free_heap": 1234567, "bus_failures": 12345}
    return Report({"rig": rig, "slaves": [slave(i) for i in range(slaves)]}, 3600.0,
                  Traffic(transfers=999_999, stretch_us=999_900_000), cpu_s=3599.0)


def board(view: str = "slaves") -> Dashboard:
    return Dashboard(20, 180.0, 100_000, view, ["  pool  127.0.0.1:40000, REST http://127.0.0.1:40001"])


@pytest.mark.parametrize("view", ["slaves", "timings"])
def test_twenty_slaves_fit_80x24_with_nothing_cut(view: str) -> None:
    lines = board(view).frame(report(), 61.0, 60.0, rows=24)
    assert len(lines) == 24
    assert max(map(len, lines)) <= WIDTH
    assert not any("…" in line for line in lines)
    assert [line.split()[0] for line in lines[2:22]] == [f"pm{i}" for i in range(20)]
    assert lines[22].startswith("all ") and "1:01 left of 3:00" in lines[0] and "Ctrl-C: stop" in lines[0]
    assert lines[23] == Figures.of(report(), 100_000).footer()


def test_the_slaves_view_keeps_the_last_bad_whole_or_by_whole_words() -> None:
    lines = board().frame(report(), 60.0, 60.0, rows=24)
    column = lines[1].index("last BAD")
    bads = [line[column:] for line in lines[2:22]]
    assert set(bads) == {"Incorrect result", LONGEST_BAD}
    assert shorten(LONGEST_BAD, 20) == "Too high starting"


def test_a_paused_or_failed_slave_shows_no_hash_rate() -> None:
    lines = board().frame(report(6), 60.0, 60.0, rows=24)
    rates = {line.split()[0]: line for line in lines[2:8]}
    assert "340" in rates["pm0"] and "340" in rates["pm1"]  # hash, submit
    assert all(" - " in rates[f"pm{i}"] for i in (2, 3, 4, 5))  # paused, errors, identify


def test_a_short_terminal_says_how_many_slaves_it_hides() -> None:
    lines = board().frame(report(), 60.0, 60.0, rows=12)
    assert len(lines) == 12 and lines[8].startswith("pm6 ") and "13 more slaves" in lines[9]
    assert lines[-2].startswith("all ")


def test_where_to_reach_the_rig_shows_when_there_is_room() -> None:
    assert board().frame(report(3), 60.0, 60.0, rows=24)[-1].startswith("  pool ")
    assert not board().frame(report(20), 60.0, 60.0, rows=24)[-1].startswith("  pool ")


def test_the_summary_has_the_footer_figures() -> None:
    figures = Figures.of(report(), 100_000)
    text = "\n".join(figures.summary())
    assert "246900 accepted, 24680 rejected, 1980 lost, 68.59 shares/s" in text
    assert "overhead p50/p95 401/401 ms" in text and "free heap 1234567 B" in text
    assert "999999 transfers, 12345 failed, 999.9 s on the wire" in text and "took 100% of one host core" in text


# --- a real run in tmux at 80x24 ---------------------------------------------

def require_tmux() -> None:
    if shutil.which("tmux"):
        return
    if os.environ.get("CI") == "true":
        pytest.fail("tmux missing: sudo make deps")
    pytest.skip("tmux missing: sudo make deps")


def test_a_real_run_at_80x24_then_ctrl_c(tmp_path: Path) -> None:
    require_tmux()
    with TmuxTerminal(f"TMPDIR={tmp_path} {DUCORIG} sim --slaves 20 --minutes 5", tmp_path) as term:
        # every slave mining and its share counted: a frame of the real thing
        frame = term.wait(lambda s: s[0].startswith("ducorig sim:") and len(s) == 24 and s[22].startswith("all ")
                          and "20 mining" in s[22] and all(int(r.split()[3]) > 0 for r in s[2:22]),
                          "frame with 20 slaves mining", SAFETY_S)
        assert [row.split()[0] for row in frame[2:22]] == [f"pm{i}" for i in range(20)]
        assert all(len(row) <= 80 and "…" not in row for row in frame)
        assert "left of 5:00" in frame[0] and "Ctrl-C: stop" in frame[0]
        term.keys("t")  # the timings view, then back
        timings = term.wait(lambda s: s[1].startswith("slave addr protocol"), "timings view", SAFETY_S)
        assert "polls/share" in timings[1] and "t: slaves" in timings[0] and max(map(len, timings)) <= 80
        term.keys("t")
        term.wait(lambda s: s[1].startswith("slave state") and s[1].endswith("last BAD"), "slaves view", SAFETY_S)
        term.keys("C-c")
        code, screen = term.wait_exit(SAFETY_S)
    assert code == 0
    summary = screen.index(next(line for line in screen if line.startswith("summary:")))
    totals, footer = screen[summary - 2:summary]  # the last frame's last two rows
    text = "\n".join(screen[summary:])
    acc, rej = totals.split()[4:6]
    shown = re.fullmatch(r"overhead p50/p95 (\d+)/(\d+) ms, heap (\d+) B, bus (\d+) xfers ([\d.]+) s, "
                         r"CPU (\d+)%", footer)
    assert totals.startswith("all ") and shown, footer
    p50, p95, heap, transfers, wire, cpu = shown.groups()
    said = re.search(r"(\d+) accepted, (\d+) rejected, (\d+) lost, ([\d.]+) shares/s", text)
    assert said and said.group(1, 2) == (acc, rej) and f"{said[4]} shares/s, {said[3]} lost" in totals
    assert f"overhead p50/p95 {p50}/{p95} ms" in text and f"free heap {heap} B" in text
    assert re.search(rf"bus +{transfers} transfers, \d+ failed, {wire} s on the wire", text)
    assert f"the controller took {cpu}% of one host core" in text
    assert not list(tmp_path.glob("ducorig-sim-*"))  # the temp dir went at exit


def test_the_readme_capture_script_writes_its_block(tmp_path: Path) -> None:
    require_tmux()
    readme = tmp_path / "README.md"
    readme.write_text("# x\n<!-- dashboard: scripts/capture_dashboard.py writes this block -->\nold\n"
                      "<!-- /dashboard -->\nrest\n")
    subprocess.run([sys.executable, str(ROOT / "scripts" / "capture_dashboard.py"), "--seconds", "0",
                    "--readme", str(readme)], check=True, timeout=SAFETY_S * 2)
    text = readme.read_text()
    block = text.split("```text\n")[1].split("```")[0].splitlines()
    assert block[0] == "$ ducorig sim --slaves 20" and block[1].startswith("ducorig sim: 20 slaves,")
    assert block[23].startswith("all ") and block[25].startswith("summary:") and max(map(len, block)) <= 80
    assert text.startswith("# x\n") and text.endswith("<!-- /dashboard -->\nrest\n") and "old" not in text
