"""EmulatorThread for synchronous callers, and the `ducorig pool` CLI."""
from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import ctrl_c_reaches_it
from test_emulator_support import DUCOID, USER, Job, http, make_config

from ducorig_host.emulator import EmulatorThread
from ducorig_host.emulator.cli import add_arguments, config_from_args

ROOT = Path(__file__).resolve().parents[2]


def _mine_one_share(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        reader = sock.makefile("rb")
        assert reader.readline() == b"2.5\n"
        sock.sendall(f"JOB,{USER},AVR,None".encode())
        job = Job.parse(reader.readline())
        sock.sendall(f"{job.solve()},338.52,Official AVR Miner 4.3,None,{DUCOID}".encode())
        return reader.readline()


def test_emulator_thread_serves_and_stops() -> None:
    with EmulatorThread(make_config()) as pool:
        assert pool.pool_port and pool.http_port
        assert _mine_one_share(pool.pool_port) == b"GOOD\n"
        assert pool.call(pool.emulator.balance, USER) == 0.0
        pool.call(lambda: pool.emulator.set_faults(user=USER, bad_burst=1))
        assert http(pool.emulator, "/_emulator/state")[1]["result"]["faults"]["users"][USER]["bad_burst"] == 1
        held = socket.create_connection(("127.0.0.1", pool.pool_port), timeout=5)
        assert held.recv(16) == b"2.5\n"
    assert held.recv(16) == b""  # stop() closed it
    held.close()


def test_emulator_thread_reports_a_bind_failure() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        thread = EmulatorThread(make_config(pool_port=busy.getsockname()[1]))
        with pytest.raises(RuntimeError):
            thread.start()


def test_cli_arguments() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--port", "7000", "--user", "alice:s3", "--user", "bob", "--tier", "A:2:0:50",
                              "--tier", "B:4:50:100:9", "--rtt", "20", "--jitter", "5", "--max-workers", "3",
                              "--max-shares-per-minute", "9", "--block-chance", "7", "--seed", "1"])
    config = config_from_args(args)
    assert config.pool_port == 7000 and config.accounts == {"alice": "s3", "bob": None}
    assert [(t.name, t.diff) for t in config.tiers] == [("A", 2), ("B", 4)]
    assert config.tiers[1].reward_div == 9
    assert (config.rtt_ms, config.jitter_ms, config.max_workers, config.max_shares_per_minute,
            config.block_chance, config.seed) == (20, 5, 3, 9, 7, 1)
    for bad in (["--tier", "A:2"], ["--user", "a,b"], ["--user", ""]):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)


def test_cli_serves_until_ctrl_c() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "lib"), str(ROOT / "scripts")])}
    process = subprocess.Popen(
        [sys.executable, "-c", "import sys; from ducorig_host.emulator.cli import main; sys.exit(main())",
         "--user", f"{USER}:key", "--seed", "3"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True, preexec_fn=ctrl_c_reaches_it)
    try:
        assert process.stdout is not None
        pool = re.fullmatch(r"pool  127\.0\.0\.1:(\d+)\n", process.stdout.readline())
        rest = re.fullmatch(r"REST  http://127\.0\.0\.1:(\d+)/\n", process.stdout.readline())
        assert pool and rest
        assert _mine_one_share(int(pool.group(1))) == b"GOOD\n"
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "Traceback" not in err and "stopped" in out
