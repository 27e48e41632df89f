"""The conformance suite's table (tests/device/conformance.py): one test name
per behaviour for every implementation, yaum's a subset of ducorig's but for
the yaum model's timings, and every transcript step one the engine knows."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "device"))
import conformance  # noqa: E402

STEP_OPS = set("><=.?JLMNOwrhiedvsptzk")
YAUM_ONLY = {"busy_times", "brief_c_o_after_a_hash", "job_start_cost"}  # settings of the yaum model


def names(protocol: str) -> list[str]:
    return [name for name, _ in conformance.transcripts(protocol)]


def test_behaviour_names_are_unique_and_yaum_has_a_subset_but_its_timings():
    ducorig, yaum = names(conformance.DUCORIG), names(conformance.YAUM)
    assert len(set(ducorig)) == len(ducorig) == 37 and len(set(yaum)) == len(yaum) == 22
    assert set(yaum) - YAUM_ONLY <= set(ducorig) and not YAUM_ONLY & set(ducorig)


def test_every_step_is_known():
    for protocol in (conformance.DUCORIG, conformance.YAUM):
        for name, script in conformance.transcripts(protocol):
            for step in script.split(" "):
                assert step == "ok" or step[0] in STEP_OPS, (name, step)


def test_bindings_make_the_same_test_names(monkeypatch):
    made = {}
    for protocol in (conformance.DUCORIG, conformance.YAUM):
        module = type(sys)(f"binding_{protocol}")
        monkeypatch.setitem(sys.modules, module.__name__, module)
        conformance.bind(module.__name__, protocol, "BUS", "role", "fast")
        made[protocol] = {n for n in vars(module) if n.startswith("test_")}
    assert made[conformance.YAUM] - {"test_" + n for n in YAUM_ONLY} < made[conformance.DUCORIG]
    assert "test_random_jobs_match_hashlib" in made[conformance.YAUM]
