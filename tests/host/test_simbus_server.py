"""The bus server's line protocol, the test rig, and one real socket round trip."""
from __future__ import annotations

import socket

from ducorig_host.simbus import testrig
from ducorig_host.simbus.bus import Bus
from ducorig_host.simbus.ducorig import DucorigSlave
from ducorig_host.simbus.server import BusServer, answer


def bus() -> Bus:
    return Bus([DucorigSlave(0x10, "DUCOID0000000000000001")])


def test_requests_and_replies():
    b = bus()
    assert answer(b, "WRITE 16 50000 53\n") == "OK 1 0"
    assert answer(b, "READ 16 50000 4") == "OK 5a6520ff 0"
    assert answer(b, "WRITE 17 50000 53") == "NACK"
    assert answer(b, "WRITE 16 50000 -") == "OK 0 0"
    assert answer(b, "SCAN 8 119 50000") == "OK 16"
    assert answer(b, "READY") == "OK 1"
    assert answer(b, "CTL 16 slow 60000") == "OK"
    assert answer(b, "READ 16 50000 3") == "TIMEOUT"
    assert answer(b, "CTL 16 slow 100") == "OK"
    assert answer(b, "READ 16 50000 3") == "OK 5a6520 100"


def test_bad_requests_get_err():
    b = bus()
    for line in ("JUMP", "WRITE 16 50000 5", "READ x 1 1", "CTL 99 factory 1", "CTL 16 gremlins 1"):
        assert answer(b, line).startswith("ERR "), line


def test_a_real_connection():
    server = BusServer(bus()).start()
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(b"WRITE 16 50000 53\nREAD 16 50000 3\n")
            replies = b""
            while replies.count(b"\n") < 2:
                replies += sock.recv(256)
        assert replies == b"OK 1 0\nOK 5a6520 0\n"
    finally:
        server.stop()


def test_rig_announces_every_bus_and_its_slaves():
    env, servers = testrig.serve()
    try:
        for var, slaves in testrig.LAYOUT.items():
            assert env[var].startswith("127.0.0.1:")
            assert env[var + "_SLAVES"] == ",".join(f"{role}={address}" for role, _, address, _ in slaves)
    finally:
        for server in servers:
            server.stop()
    assert testrig.ducoid_for("x") != testrig.ducoid_for("y") and len(testrig.ducoid_for("x")) == 22
