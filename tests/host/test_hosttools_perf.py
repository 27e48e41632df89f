"""`ducorig perf`: income figures, the CSV log (resume, header mismatch, never
rewritten), the live view and --once, the chart and the PNG."""
from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest
from test_hosttools_support import (FakeClock, MiningRig, envelope, fake_client, html, miner_json, parse_args,
                                    rest_url, scripted, start_emulator, user_result, world)  # noqa: F401 (fixtures)

from ducorig_host import perf, perfcsv, perfplot
from ducorig_host.balancehistory import BalanceHistory, Sample
from ducorig_host.rest import RestClient
from ducorig_host.termchart import line_chart

T0 = 1_800_000_000.0


def history_of(balances: list[float], step_s: float = 20.0) -> BalanceHistory:
    history = BalanceHistory()
    for i, balance in enumerate(balances):
        assert history.add(Sample(T0 + i * step_s, balance, 3, 1020.0))
    return history


# -- income figures --------------------------------------------------------------------------
def test_rates_over_full_and_partial_windows() -> None:
    history = history_of([0.001 * i for i in range(16)])  # 5 minutes, +0.001 DUCO per 20 s
    one_minute = history.rate(60)
    assert one_minute.full and one_minute.span_s == 60
    assert one_minute.duco_per_hour == pytest.approx(0.003 * 60)
    hour = history.rate(3600)
    assert not hour.full and hour.span_s == 300
    assert hour.duco_per_hour == pytest.approx(0.015 * 12) and hour.duco_per_day == pytest.approx(0.015 * 12 * 24)
    assert history.mined_total == pytest.approx(0.015)


def test_transfers_are_left_out_of_income() -> None:
    history = history_of([10.0, 10.5, 5.5, 6.0, 606.0, 606.5])  # -5 sent, +600 received
    assert history.transfers == 2
    assert history.mined_total == pytest.approx(1.5)
    assert history.rate(3600).duco_per_hour == pytest.approx(1.5 / 100 * 3600)


def test_a_sample_out_of_time_order_is_refused() -> None:
    history = history_of([1.0, 2.0])
    assert not history.add(Sample(T0 + 5, 3.0, 1, 0.0))
    assert len(history.samples) == 2


def test_rate_series_skips_the_first_noisy_figures() -> None:
    history = history_of([0.1 * i for i in range(10)], step_s=30)
    series = history.rate_series(3600, min_span_s=60)
    assert [t - T0 for t, _ in series] == [60, 90, 120, 150, 180, 210, 240, 270]
    assert all(per_day == pytest.approx(0.1 / 30 * 86400) for _, per_day in series)


def test_format_duration() -> None:
    assert [perf.format_duration(s) for s in (5, 75, 3725, 90000)] == ["5s", "1m15s", "1h02m", "1d01h"]


# -- the CSV log -----------------------------------------------------------------------------
def test_csv_new_file_then_resume(tmp_path: Path) -> None:
    log = tmp_path / "perf.csv"
    assert perfcsv.choose_log(log) == perfcsv.LogChoice(log, None)
    for i in range(3):
        perfcsv.append(log, "alice", Sample(T0 + 20 * i, 1.5 + i, 2, 680.0))
    perfcsv.append(log, "bob", Sample(T0, 9.0, 1, 340.0))
    lines = log.read_text().splitlines()
    assert lines[0] == perfcsv.HEADER_LINE and len(lines) == 5
    loaded = perfcsv.load(log, "alice")
    assert [s.balance for s in loaded.samples] == [1.5, 2.5, 3.5] and loaded.skipped == 0
    assert loaded.samples[0] == Sample(T0, 1.5, 2, 680.0)
    assert [s.balance for s in perfcsv.load(log, "bob").samples] == [9.0]


def test_csv_header_mismatch_goes_to_file_n(tmp_path: Path) -> None:
    old = tmp_path / "perf.csv"
    old.write_text("time;balance\n12:00;1.5\n")
    before = old.read_bytes()
    choice = perfcsv.choose_log(old)
    assert choice.path == tmp_path / "perf.1.csv" and "another header" in choice.note
    perfcsv.append(choice.path, "alice", Sample(T0, 1.0, 1, 340.0))
    assert perfcsv.choose_log(old).path == tmp_path / "perf.1.csv"  # the next run resumes there
    (tmp_path / "perf.1.csv").write_text("other,header\n")
    assert perfcsv.choose_log(old).path == tmp_path / "perf.2.csv"
    assert old.read_bytes() == before
    assert perfcsv.alternative_path(tmp_path / "log", 3) == tmp_path / "log.3.csv"


def test_csv_row_cut_by_a_crash_is_skipped_and_kept(tmp_path: Path) -> None:
    log = tmp_path / "perf.csv"
    perfcsv.append(log, "alice", Sample(T0, 1.0, 1, 340.0))
    with log.open("ab") as f:
        f.write(b"1800000020.000,2027-01-15T08:00:20Z,alice,1.0")  # no line end
    perfcsv.append(log, "alice", Sample(T0 + 40, 2.0, 1, 340.0))
    loaded = perfcsv.load(log, "alice")
    assert [s.balance for s in loaded.samples] == [1.0, 2.0] and loaded.skipped == 1
    assert b"alice,1.0\r\n" in log.read_bytes()


# -- the monitor on the emulator, with a fake clock ------------------------------------------
def test_monitor_measures_income_on_the_emulator() -> None:
    emulator = start_emulator()
    rig = MiningRig(emulator)
    try:
        avr = rig.add("alice", key="s3cret")
        clock = FakeClock()
        client = fake_client(rest_url(emulator), clock)
        monitor = perf.PerfMonitor("alice", client.base_url, BalanceHistory(), now=clock.time)
        first = monitor.poll(client)
        rig.mine(avr, 4)  # two more booked rewards
        second = monitor.poll(client)
    finally:
        rig.close()
        emulator.stop()
    assert clock.sleeps == [20.0] and second.time - first.time == 20.0
    assert second.balance > first.balance and second.miners == 1 and second.hashrate == 340.0
    gained = second.balance - first.balance
    assert monitor.history.rate(60).duco_per_hour == pytest.approx(gained / 20 * 3600)
    view = monitor.render()
    assert f"{second.balance:.8f} DUCO" in view and "1 online, 340 H/s" in view
    assert f"1 min: {gained / 20 * 3600:.4f}  " in view and "STALE" not in view
    assert "\n           (1, 10 and 60 min: over the 20s so far)\n" in view
    assert max(map(len, view.splitlines())) <= 80


def test_api_errors_never_end_it_and_stale_data_says_its_age(scripted) -> None:
    scripted.set("/v2/users/alice", envelope(user_result(5.0)), html(502, "Bad Gateway"))
    clock = FakeClock()
    client = fake_client(scripted.url, clock, retries=0)
    monitor = perf.PerfMonitor("alice", scripted.url, BalanceHistory(), now=clock.time)
    assert monitor.poll(client) is not None
    assert monitor.poll(client) is None and monitor.poll(client) is None
    view = monitor.render()
    assert monitor.errors == 2 and monitor.attempts == 3
    assert "5.00000000 DUCO" in view and "STALE" in view and "HTTP 502" in view
    assert "the figures above are 40s old" in view


def test_a_frame_with_an_error_and_a_note_fits_80x24(scripted, tmp_path: Path) -> None:
    scripted.set("/v2/users/alice", *(envelope(user_result(5.0 + n / 100, [miner_json(1)])) for n in range(5)))
    clock = FakeClock()
    client = fake_client(scripted.url, clock, retries=0)
    monitor = perf.PerfMonitor("alice", scripted.url, BalanceHistory(), tmp_path / "a-long-name-for-a-log.csv",
                               notes=["resumed 6 sample(s) of alice from a-long-name-for-a-log.csv"], now=clock.time)
    for _ in range(5):
        assert monitor.poll(client) is not None
    with socket.create_server(("127.0.0.1", 0)) as closed:
        gone = closed.getsockname()[1]
    assert monitor.poll(fake_client(f"http://127.0.0.1:{gone}", clock, retries=0)) is None
    lines = monitor.render().splitlines()
    assert lines[4] == "           (10 and 60 min: over the 1m20s so far)" and lines[-1].startswith("note: resumed")
    assert any(line.startswith("STALE") for line in lines)
    assert len(lines) <= 23 and max(map(len, lines)) <= 80  # the 24th row: where the cursor waits


# -- the command -------------------------------------------------------------------------
def once_fields(text: str) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in text.split())


def test_once_prints_a_sample_and_appends_it(world, tmp_path: Path, capsys) -> None:
    log = tmp_path / "alice.csv"
    argv = ["alice", "--api", world.url, "--once", "--csv", str(log)]
    assert perf.run(parse_args(perf, argv)) == 0
    assert perf.run(parse_args(perf, argv)) == 0
    first, second = (once_fields(line) for line in capsys.readouterr().out.splitlines())
    balance = world.emulator.emulator.balance("alice")
    assert first["user"] == "alice" and first["miners"] == "4" and first["balance"] == f"{balance:.8f}"
    assert first["per_hour_1m"] == "-" and second["per_hour_1m"] == "0.0000"  # resumed; the rig is idle
    assert len(perfcsv.load(log, "alice").samples) == 2


def test_once_failures_exit_1_and_lose_nothing(world, tmp_path: Path, capsys, monkeypatch) -> None:
    log = tmp_path / "alice.csv"
    assert perf.run(parse_args(perf, ["nobody", "--api", world.url, "--once", "--csv", str(log)])) == 1
    assert "no such user 'nobody'" in capsys.readouterr().err and not log.exists()
    perfcsv.append(log, "alice", Sample(T0, 1.0, 1, 340.0))
    before = log.read_bytes()
    monkeypatch.setattr(perf, "client_from_args", lambda args: RestClient(args.api, retries=0))
    assert perf.run(parse_args(perf, ["alice", "--api", "http://127.0.0.1:9", "--once", "--csv", str(log)])) == 1
    assert "cannot reach the API" in capsys.readouterr().err and log.read_bytes() == before


def test_once_into_an_old_csv_says_where_samples_go(world, tmp_path: Path, capsys) -> None:
    old = tmp_path / "perf.csv"
    old.write_text("Zeit,Stand\n")
    assert perf.run(parse_args(perf, ["alice", "--api", world.url, "--once", "--csv", str(old)])) == 0
    err = capsys.readouterr().err
    assert "perf.1.csv" in err and old.read_text() == "Zeit,Stand\n"
    assert len(perfcsv.load(tmp_path / "perf.1.csv", "alice").samples) == 1


def test_live_view_redraws_per_request(world, tmp_path: Path, capsys) -> None:
    log = tmp_path / "live.csv"
    argv = ["alice", "--api", world.url, "--interval", "0.01", "--count", "3", "--csv", str(log)]
    assert perf.run(parse_args(perf, argv)) == 0
    out = capsys.readouterr().out
    assert out.count("ducorig perf: alice") == 3 and "4 online" in out and "STALE" not in out
    assert len(perfcsv.load(log, "alice").samples) == 3


def test_live_view_stops_for_an_unknown_user(world, capsys) -> None:
    assert perf.run(parse_args(perf, ["nobody", "--api", world.url, "--interval", "0.01", "--count", "5"])) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("ducorig perf: no such user 'nobody'")
    assert "STALE" not in captured.err


def test_live_view_survives_a_dead_api_but_exits_1_without_a_sample(scripted, capsys) -> None:
    scripted.set("/v2/users/alice", html(502, "Bad Gateway"))
    clock = FakeClock()
    monitor = perf.PerfMonitor("alice", scripted.url, BalanceHistory(), now=clock.time)
    assert perf.watch(monitor, fake_client(scripted.url, clock, retries=0), perf.Screen(), count=3) == 1
    captured = capsys.readouterr()
    assert captured.out.count("no sample yet") == 3 and captured.out.count("STALE") == 3
    assert clock.sleeps == [20.0, 20.0]
    assert captured.err.startswith("ducorig perf: no answer in 3 request(s); the last error: ")
    assert "HTTP 502" in captured.err


def test_a_sample_that_cannot_be_written_is_still_shown(scripted, tmp_path: Path) -> None:
    scripted.set("/v2/users/alice", envelope(user_result(5.0)))
    clock = FakeClock()
    client = fake_client(scripted.url, clock)
    monitor = perf.PerfMonitor("alice", scripted.url, BalanceHistory(), csv_path=tmp_path, now=clock.time)
    assert monitor.poll(client) is not None  # a folder: the append fails
    view = monitor.render()
    assert "NOT SAVED" in view and "5.00000000 DUCO" in view
    monitor.csv_path = tmp_path / "ok.csv"
    monitor.poll(client)
    assert monitor.save_error is None and len(perfcsv.load(tmp_path / "ok.csv", "alice").samples) == 1


def test_bad_options_exit_2(capsys, tmp_path: Path) -> None:
    assert perf.run(parse_args(perf, ["alice", "--interval", "2"])) == 2
    assert "too fast for the public API" in capsys.readouterr().err
    assert perf.run(parse_args(perf, ["alice", "--csv", str(tmp_path / "no" / "such.csv")])) == 2
    assert "does not exist" in capsys.readouterr().err


# -- chart and PNG ---------------------------------------------------------------------------
def test_terminal_chart() -> None:
    points = [(T0 + 20 * i, 10.0 + 0.5 * (i // 4)) for i in range(12)]
    chart = line_chart(points, width=30, height=5, time_label=lambda t: f"{t - T0:.0f}")
    assert len(chart) == 7 and all(len(line) <= 40 for line in chart)
    assert chart[0].startswith("11.0000 |") and chart[4].startswith("10.0000 |*")
    assert chart[0].rstrip().endswith("*") and chart[-1].split() == ["0", "220"]
    assert "|" in chart[2]  # the riser of a step
    assert line_chart(points[:1]) == ["(the chart starts with the second sample)"]


# Irregular times and steps: a plot of other data, or of these at even
# spacing, cannot pass for them.
PNG_TIMES = [0, 500, 900, 1700, 2300, 2600, 3500, 4100, 5000, 5400, 6300, 7200, 7500, 8600]
PNG_BALANCES = [10.0, 10.4, 11.5, 11.6, 13.0, 13.1, 13.9, 15.6, 15.8, 17.5, 17.6, 19.8, 19.9, 21.0]
MAX_RESIDUAL_PX = 1.0


def midpoints(values: list[float]) -> list[float]:
    return [(a + b) / 2 for a, b in zip(values, values[1:])]


def assert_line_plots(weight, columns: list[float], values: list[float]) -> None:
    """The line's vertical centre (weighted by its colour) in each pixel column
    must be one affine function of the values: the plot's y scale is unknown
    here, the shape of the data is not."""
    import numpy as np

    rows = np.arange(weight.shape[0])
    centres = [float((rows * weight[:, round(c)]).sum() / weight[:, round(c)].sum()) for c in columns]
    slope, offset = np.polyfit(values, centres, 1)
    assert slope < 0  # larger values are drawn higher up
    residuals = np.array(centres) - (slope * np.array(values) + offset)
    assert abs(residuals).max() < MAX_RESIDUAL_PX, residuals


def test_png_plots_the_samples_and_the_rates(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    import numpy as np
    from matplotlib.image import imread

    history = BalanceHistory()
    for t, balance in zip(PNG_TIMES, PNG_BALANCES):
        assert history.add(Sample(T0 + t, balance, 3, 1020.0))
    png = tmp_path / "perf.png"
    perfplot.write_png(history, png, "alice: balance and income")
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) < 100_000
    assert not (tmp_path / "perf.png.part").exists()

    red, green, blue = (imread(png)[:, :, i] for i in range(3))
    # On white, only the tab:blue balance line has blue > red and only the
    # tab:green rate line has green > blue (grid and text are grey).
    balance_ink, rate_ink = np.clip(blue - red, 0, None), np.clip(green - blue, 0, None)
    inked = np.nonzero((balance_ink > 0.1).any(axis=0))[0]
    first, last = inked.min(), inked.max()  # the first and the last sample (shared time axis)

    def column(t: float) -> float:
        return first + (t - PNG_TIMES[0]) / (PNG_TIMES[-1] - PNG_TIMES[0]) * (last - first)

    # The balance is a step line: read each step in the middle of its interval.
    assert_line_plots(balance_ink, [column(t) for t in midpoints(PNG_TIMES)], PNG_BALANCES[:-1])
    rates = history.rate_series(perfplot.RATE_WINDOW_S, perfplot.RATE_MIN_SPAN_S)
    rate_times = [t - T0 for t, _ in rates]
    assert len(rates) == len(PNG_TIMES) - 1  # all but the first sample
    assert abs(np.nonzero((rate_ink > 0.1).any(axis=0))[0].min() - column(rate_times[0])) <= 2
    # The rate is a polyline: between two points it is their mean.
    assert_line_plots(rate_ink, [column(t) for t in midpoints(rate_times)], midpoints([r for _, r in rates]))


def test_png_without_matplotlib_says_how_to_install(scripted, monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    assert perf.run(parse_args(perf, ["alice", "--api", scripted.url, "--png", "x.png"])) == 2
    assert "pip install 'ducorig[plot]'" in capsys.readouterr().err and scripted.requests == []
