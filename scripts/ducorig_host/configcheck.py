"""What `ducorig deploy` and `ducorig push` check in a rig config before it
goes to a board, on top of the controller's own check (ducorig.config, which
runs on the chip and stays small): keys given twice (JSON keeps the last one
silently), a close match for an unknown key, and the example's placeholders
left unedited. Every problem is one line, named by its key as the
controller names it (`wifi.ssid`, `slaves[1].address`)."""
from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

from ducorig import config as device_config
from ducorig_host.simrig import ROOT

EXAMPLE = ROOT / "firmware" / "esp8266" / "config.example.json"
PLACEHOLDER_PREFIX = "my-"  # the example's values a user must replace: "my-network", "my-duco-user"...
UNKNOWN_KEY = ": unknown key"


class _Object(dict):
    """A JSON object that remembers which of its keys were given more than once."""

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        seen: set[str] = set()
        self.twice = sorted({key for key, _ in pairs if key in seen or seen.add(key)})


def problems(path: Path) -> list[str]:
    """Every problem of the config at `path`; [] when it may go to a board."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=_Object)
    except (OSError, ValueError):
        data = None  # the controller's check names it
    found = duplicate_keys(data) if data is not None else []
    try:
        device_config.load(str(path))
    except device_config.ConfigError as e:
        found += [with_suggestion(problem) for problem in e.problems]
    if data is not None:
        found += placeholders(data, json.loads(EXAMPLE.read_text(encoding="utf-8")))
    return found


def duplicate_keys(value: Any, where: str = "") -> list[str]:
    found = []
    if isinstance(value, _Object):
        found += [f"{where}{key}: given twice (JSON would keep only the last one)" for key in value.twice]
        for key, item in value.items():
            found += duplicate_keys(item, f"{where}{key}.")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += duplicate_keys(item, f"{where[:-1]}[{i}].")
    return found


def known_keys() -> dict[str, list[str]]:
    """The keys the controller takes, by where they go: "" (the top), "wifi.", "slaves[]."..."""
    example = device_config.masked(device_config.load(str(EXAMPLE)))
    keys = {"": list(example)}
    for name, value in example.items():
        if isinstance(value, dict):
            keys[f"{name}."] = list(value)
    keys["slaves[]."] = list(example["slaves"][0])
    return keys


def with_suggestion(problem: str) -> str:
    """`usr: unknown key` -> `usr: unknown key (did you mean user?)`."""
    if not problem.endswith(UNKNOWN_KEY):
        return problem
    where, _, key = problem[:-len(UNKNOWN_KEY)].rpartition(".")
    section = f"{where.split('[')[0]}[]." if where.endswith("]") else f"{where}." if where else ""
    match = difflib.get_close_matches(key, known_keys().get(section, []), n=1)
    return f"{problem} (did you mean {match[0]}?)" if match else problem


def placeholders(data: Any, example: Any, where: str = "") -> list[str]:
    """The example's "my-..." values, left where the example has them."""
    if isinstance(example, dict) and isinstance(data, dict):
        return [problem for key, value in example.items() if key in data
                for problem in placeholders(data[key], value, f"{where}{key}.")]
    if isinstance(example, str) and example.startswith(PLACEHOLDER_PREFIX) and data == example:
        return [f"{where[:-1]}: {data!r} is the example's placeholder: put in your own"]
    return []
