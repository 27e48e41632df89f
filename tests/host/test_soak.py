"""`ducorig bench soak` for 100 s of sim time with a fault every 8 s on
average: the summary's shape, every injection listed, every reject matched
to an injection, and nothing lost to the controller. The 2-hour run is the
bench's (README, "What the rig survives")."""
from __future__ import annotations

from typing import Any

import pytest

from ducorig_host.faults import BY_NAME
from ducorig_host.simrig import HEAPSIZE
from ducorig_host.soak import soak, text

SECONDS = 100.0
GAP_S = 8.0
SEED = 2


@pytest.fixture(scope="module")
def summary() -> dict[str, Any]:
    logged: list[str] = []
    result = soak(SECONDS, SEED, GAP_S, HEAPSIZE, log=logged.append)
    result["logged"] = logged
    return result


def test_the_summary_has_what_the_issue_asks(summary: dict[str, Any]) -> None:
    for key in ("shares_per_hour", "rejects", "lost", "lost_to_fault", "reconnects", "resets",
                "heap_first_quarter_min", "heap_last_quarter_min", "injections"):
        assert key in summary
    assert summary["accepted"] > 0 and summary["shares_per_hour"] > 0
    assert summary["heap_first_quarter_min"] and summary["heap_last_quarter_min"]
    assert "rejects (" in text(summary)


def test_every_injection_is_logged_and_listed(summary: dict[str, Any]) -> None:
    injections = summary["injections"]
    assert len(injections) >= 3
    assert len(summary["logged"]) == len(injections)
    for entry, line in zip(injections, summary["logged"]):
        assert entry["fault"] in BY_NAME and entry["fault"] in line


def test_every_reject_is_matched_to_an_injection(summary: dict[str, Any]) -> None:
    assert summary["rejects_unmatched"] == 0, summary["rejects"]


def test_nothing_is_lost_to_the_controller(summary: dict[str, Any]) -> None:
    assert summary["lost"] == 0
