"""`ducorig bench faults` at the tests' timings (faults.QUICK): one test per
fault of the reliability issue. Each asserts, by counting shares, rejects,
states and log lines in the bench's own ledgers, that the rig noticed the
fault, mined cleanly again afterwards, lost no share to the controller,
and rebooted only for the wedged loop. The others' busy % is the bench's
figure (its 60-s windows), not asserted here.

Two rig runs serve every test, each started by the first test that needs
it: the per-slave faults at once on 15 slaves beside 3 untouched ones
(after the slaves powered up late), then the rig-wide faults one after the
other on 10 slaves. The controller runs on MicroPython, as in `ducorig sim`."""
from __future__ import annotations

from typing import Any

import pytest

from ducorig_host.faultbench import FIRST_RUN, SECOND_RUN, bench
from ducorig_host.faults import BURST, KINDS, QUICK
from ducorig_host.simrig import HEAPSIZE

Row = dict[str, Any]
SEED = 1


def rows_of(kinds: list[str]) -> dict[str, Row]:
    return {r["fault"]: r for r in bench([k for k in KINDS if k.name in kinds], QUICK, SEED, HEAPSIZE,
                                         parallel=True)}


@pytest.fixture(scope="module")
def per_slave() -> dict[str, Row]:
    return rows_of(FIRST_RUN + [k.name for k in KINDS if k.scope == "slave"])


@pytest.fixture(scope="module")
def rig_wide() -> dict[str, Row]:
    return rows_of(SECOND_RUN)


def survived(row: Row, reboot: bool = False) -> None:
    """Noticed, mining cleanly again, nothing lost to the controller, and
    rebooted only if it must."""
    assert row["detected_s"] is not None, f"{row['fault']}: not noticed: {row}"
    assert row["recovered_s"] is not None, f"{row['fault']}: did not recover: {row}"
    assert row["lost"] == 0, f"{row['fault']}: shares lost to the controller: {row}"
    assert row["rebooted"] is reboot, f"{row['fault']}: rebooted {row['rebooted']}: {row}"
    assert row["signs"] >= 1


def test_every_row_has_the_keys_of_the_issue(per_slave: dict[str, Row], rig_wide: dict[str, Row]) -> None:
    keys = {"fault", "scope", "detected_s", "recovered_s", "lost", "lost_to_fault", "others_busy_delta", "ok"}
    rows = {**per_slave, **rig_wide}
    assert set(rows) == {k.name for k in KINDS}
    for row in rows.values():
        assert keys <= set(row)
        assert (row["others_busy_delta"] is None) == (row["scope"] == "rig")


# --- per slave ---------------------------------------------------------------------------

def test_unplugged_then_plugged_back(per_slave: dict[str, Row]) -> None:
    survived(per_slave["unplugged"])


def test_hung_slave_back_through_its_own_watchdog(per_slave: dict[str, Row]) -> None:
    survived(per_slave["hung"])


def test_slave_slower_than_its_job_limit(per_slave: dict[str, Row]) -> None:
    survived(per_slave["slow"])


def test_garbled_job_byte(per_slave: dict[str, Row]) -> None:
    row = per_slave["garbled_job"]
    survived(row)
    assert row["lost_to_fault"] == 0


def test_garbled_result_byte(per_slave: dict[str, Row]) -> None:
    row = per_slave["garbled_result"]
    survived(row)
    assert row["lost_to_fault"] == 0 and row["rejected"] == 0  # the CRC caught it: no wrong share went out


def test_reset_mid_job(per_slave: dict[str, Row]) -> None:
    survived(per_slave["reset"])


def test_nak_in_the_middle_of_a_write(per_slave: dict[str, Row]) -> None:
    survived(per_slave["nak"])


def test_pool_drops_the_connection_mid_share(per_slave: dict[str, Row]) -> None:
    row = per_slave["pool_drop"]
    survived(row)
    assert row["lost_to_fault"] == 1  # the share the pool dropped


def test_pool_garbage(per_slave: dict[str, Row]) -> None:
    survived(per_slave["pool_garbage"])


def test_pool_stall_past_the_timeout(per_slave: dict[str, Row]) -> None:
    row = per_slave["pool_stall"]
    survived(row)
    assert row["lost_to_fault"] <= 1  # the stalled answer was a feedback, or a job


def test_burst_of_bad_incorrect_result(per_slave: dict[str, Row]) -> None:
    row = per_slave["bad_incorrect"]
    survived(row)
    assert row["rejected"] == BURST


def test_bad_too_many_workers(per_slave: dict[str, Row]) -> None:
    row = per_slave["bad_workers"]
    survived(row)
    assert row["rejected"] == BURST


def test_tier_move(per_slave: dict[str, Row]) -> None:
    row = per_slave["tier_move"]
    survived(row)
    assert row["rejected"] == 1  # the pool's one BAD as it moves the connection


def test_tier_bounce(per_slave: dict[str, Row]) -> None:
    survived(per_slave["tier_bounce"])


def test_yaum_slave_locked_is_parked_until_power_cycled(per_slave: dict[str, Row]) -> None:
    survived(per_slave["yaum_locked"])


def test_console_garbage_throughout(per_slave: dict[str, Row]) -> None:
    row = per_slave["console_garbage"]
    survived(row)
    assert row["sent"] and row["signs"] == row["sent"]  # every burst ignored as a paste, none ran


# --- rig-wide -------------------------------------------------------------------------------

def test_slaves_power_up_after_the_esp(per_slave: dict[str, Row]) -> None:
    survived(per_slave["slaves_late"])


def test_pool_host_unreachable_at_start(rig_wide: dict[str, Row]) -> None:
    survived(rig_wide["pool_unreachable"])


def test_sda_held_low(rig_wide: dict[str, Row]) -> None:
    survived(rig_wide["sda_low"])


def test_wifi_lost(rig_wide: dict[str, Row]) -> None:
    survived(rig_wide["wifi_lost"])


def test_heap_pressure(rig_wide: dict[str, Row]) -> None:
    survived(rig_wide["heap_pressure"])


def test_wedged_loop_ends_in_a_watchdog_reset(rig_wide: dict[str, Row]) -> None:
    row = rig_wide["wedged_loop"]
    survived(row, reboot=True)
    assert row["ok"]
