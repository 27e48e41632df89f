"""docs/host-tools.md runs as written: every `$ ducorig ...` line of its
samples runs against a local emulator standing in for the documented pair
(`ducorig pool` with alice and bob, `ducorig sim` mining for alice), in the
doc's order in one folder, and exits as the sample says. The two servers
themselves are only parsed by their real command lines (they run for
minutes). Outputs are compared with numbers, thread ids and DUCOIDs masked:
in full for check, miners and getpool, by the first line for perf (its
chart and rates depend on the run)."""
from __future__ import annotations

import argparse
import importlib
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest
from cli_support import ducorig
from test_hosttools_support import MiningRig, rest_url, start_emulator

from ducorig_host.cli import COMMANDS
from ducorig_host.emulator import EmulatorThread
from ducorig_host.simrig import ROOT

DOC = ROOT / "docs" / "host-tools.md"
DOC_API = "127.0.0.1:8000"  # the REST port the doc's `ducorig pool` listens on
SERVERS = ("pool", "sim")
BLOCK = re.compile(r"^```[a-z]*\n(.*?)^```", re.DOTALL | re.MULTILINE)
MASKED = re.compile(r"DUCOID[0-9A-F]+|\b[0-9a-f]{8,16}\b|\d+(\.\d+)?")


@dataclass
class Step:
    """One `$ ` line of a sample and the lines it printed."""
    argv: list[str]
    output: list[str] = field(default_factory=list)
    exit_code: int = 0


def doc_steps(text: str) -> list[Step]:
    steps: list[Step] = []
    for block in BLOCK.findall(text):
        current: Step | None = None  # a block without a `$ ` line is not a session
        for line in block.splitlines():
            if line.startswith("$ "):
                current = Step(shlex.split(line[2:]))
                steps.append(current)
            elif current is not None:
                current.output.append(line)
    for step in steps:
        while step.output and not step.output[-1].strip():
            step.output.pop()
    # `$ echo $?` gives the exit code of the command before it; else "(exit N)" in its output
    for before, step in zip(steps, steps[1:]):
        if step.argv == ["echo", "$?"]:
            before.exit_code = int(step.output[0])
    for step in steps:
        said = re.search(r"\(exit (\d+)\)", "\n".join(step.output))
        if said:
            step.exit_code = int(said.group(1))
    return [step for step in steps if step.argv != ["echo", "$?"]]


def masked(lines: list[str]) -> list[str]:
    return [" ".join(MASKED.sub("N", line).split()) for line in lines]


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    """What `ducorig pool --user alice:s3cret --user bob` with `ducorig sim
    --user alice --key s3cret` would show: alice's rig of three."""
    emulator: EmulatorThread = start_emulator()
    rig = MiningRig(emulator)
    try:
        for _ in range(3):
            rig.add("alice", key="s3cret", rig="sim-rig", wallet_id=2811, software="ducorig I2C sim")
        yield rest_url(emulator).removeprefix("http://")
    finally:
        rig.close()
        emulator.stop()


def test_the_doc_has_samples_of_every_tool() -> None:
    commands = {step.argv[1] for step in doc_steps(DOC.read_text()) if step.argv[0] == "ducorig"}
    assert {"pool", "sim", "perf", "miners", "check"} <= commands


def test_the_servers_command_lines_parse() -> None:
    for step in doc_steps(DOC.read_text()):
        if step.argv[:2] in (["ducorig", name] for name in SERVERS):
            parser = argparse.ArgumentParser(prog=f"ducorig {step.argv[1]}")
            importlib.import_module(COMMANDS[step.argv[1]][0]).add_arguments(parser)
            try:
                parser.parse_args(step.argv[2:])
            except SystemExit:  # argparse said why on stderr: an option that does not exist, a bad value
                pytest.fail(f"the doc's `{shlex.join(step.argv)}` does not parse")


def test_every_documented_command_runs_as_the_sample_says(api: str, tmp_path: Path) -> None:
    for step in doc_steps(DOC.read_text()):
        if step.argv[0] == "cat":  # a file the sample shows: the user has it
            (tmp_path / step.argv[1]).write_text("\n".join(step.output) + "\n")
            continue
        assert step.argv[0] == "ducorig", f"the samples run ducorig, cat and echo $? only: {step.argv}"
        if step.argv[1] in SERVERS:
            continue
        argv = [arg.replace(DOC_API, api) for arg in step.argv[1:]]
        if argv[0] == "perf" and not {"--once", "--count"} & set(argv):
            argv += ["--count", "1"]  # the live view runs until Ctrl-C
        result = ducorig(*argv, cwd=tmp_path)
        shown = f"{shlex.join(step.argv)}\n{result.stdout}{result.stderr}"
        assert result.returncode == step.exit_code and "Traceback" not in result.stderr, shown
        printed = [line for line in step.output if not line.startswith("note: ")]  # notes go to stderr
        if argv[0] == "perf":
            assert masked(result.stdout.splitlines()[:1]) == masked(printed[:1]), shown
        else:
            assert masked((result.stdout or result.stderr).splitlines()) == masked(printed), shown
