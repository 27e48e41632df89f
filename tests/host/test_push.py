"""ducorig push (the root files and the config; never the library, which only
`ducorig deploy` can write) against a WebREPL double on 127.0.0.1 (the ESP8266
cannot be here): it serves the password handshake and the PUT protocol as
extmod/modwebrepl.c does, with its own websocket code (not the client's), and
sends console text between its answers, as a running rig would."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import struct
import threading
import time
from pathlib import Path

import pytest
from cli_support import ducorig, failed_cleanly, filled_example

from ducorig_host.cli import main
from ducorig_host.simrig import LIB, ROOT
from ducorig_host.webrepl import WebRepl, WebReplError

FIRMWARE = ROOT / "firmware" / "esp8266"
EXAMPLE = FIRMWARE / "config.example.json"
PASSWORD = "s3cret"


class WebReplDouble:
    """One session at a time; `mode` "ok", "stall" (logs in, then never
    answers) or "busy" (upgrades, then hangs up: another session is open)."""

    def __init__(self, mode: str = "ok"):
        self.mode = mode
        self.files: dict[str, bytes] = {}
        self.sessions = 0  # connections accepted
        self.unmasked_frames = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> WebReplDouble:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join(10)
        self.listener.close()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
                self.sessions += 1
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                try:
                    self._session(conn)
                except (EOFError, OSError):
                    pass  # the client went away

    def _session(self, conn: socket.socket) -> None:
        request = b""
        while b"\r\n\r\n" not in request:
            request += self._recv(conn, 1024)
        headers = dict(line.split(b": ", 1) for line in request.split(b"\r\n")[1:] if b": " in line)
        assert b"Upgrade" in headers[b"Connection"] and headers[b"Upgrade"] == b"websocket"
        key = headers[b"Sec-WebSocket-Key"] + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
        accept = base64.b64encode(hashlib.sha1(key).digest())
        conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        if self.mode == "busy":
            return
        self._send(conn, 0x81, b"Password: ")
        typed = b""
        while not typed.endswith(b"\r"):
            typed += self._frame(conn)[1]
        if typed[:-1] != PASSWORD.encode():
            self._send(conn, 0x81, b"\r\nAccess denied\r\n")
            return
        self._send(conn, 0x81, b"\r\nWebREPL connected\r\n>>> ")
        if self.mode == "stall":
            while not self.stopping.wait(0.1):
                pass
            return
        while True:
            signature, op, _, _, size, name_len, name = struct.unpack("<2sBBQLH64s", self._binary(conn, 82))
            assert (signature, op) == (b"WA", 1)
            self._send(conn, 0x81, b"pm0 GOOD 12 ms\r\n")  # console output of the running rig
            self._send(conn, 0x82, b"WB\0\0")
            data = self._binary(conn, size)
            self.files[name[:name_len].decode()] = data
            self._send(conn, 0x82, b"WB\0\0")

    @staticmethod
    def _recv(conn: socket.socket, size: int) -> bytes:
        data = conn.recv(size)
        if not data:
            raise EOFError
        return data

    def _exactly(self, conn: socket.socket, size: int) -> bytes:
        data = b""
        while len(data) < size:
            data += self._recv(conn, size - len(data))
        return data

    def _frame(self, conn: socket.socket) -> tuple[int, bytes]:
        first, second = self._exactly(conn, 2)
        size = second & 0x7F
        assert size != 127, "the device's websocket has no 64-bit lengths"
        if size == 126:
            (size,) = struct.unpack(">H", self._exactly(conn, 2))
        if not second & 0x80:
            self.unmasked_frames += 1
        mask = self._exactly(conn, 4) if second & 0x80 else b"\0" * 4
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self._exactly(conn, size)))
        if first & 0x0F == 0x8:
            raise EOFError  # the client's close frame
        return first & 0x0F, payload

    def _binary(self, conn: socket.socket, size: int) -> bytes:
        data = b""
        while len(data) < size:
            opcode, payload = self._frame(conn)
            if opcode == 0x2:
                data += payload
        assert len(data) == size, "a PUT's data frames end with the file"
        return data

    @staticmethod
    def _send(conn: socket.socket, flags: int, payload: bytes) -> None:
        conn.sendall(bytes([flags, len(payload)]) + payload)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return filled_example(tmp_path)


def test_push_sends_the_root_files_and_the_config_byte_identical(capsys: pytest.CaptureFixture[str],
                                                                  config: Path) -> None:
    with WebReplDouble() as device:
        assert main(["push", "127.0.0.1", "--port", str(device.port), "--password", PASSWORD,
                     "--config", str(config)]) == 0
    assert device.files == {"/boot.py": (FIRMWARE / "boot.py").read_bytes(),
                            "/main.py": (FIRMWARE / "main.py").read_bytes(), "/config.json": config.read_bytes()}
    assert device.unmasked_frames == 0
    assert "pushed 3 files" in capsys.readouterr().out


def test_push_sends_only_the_files_named(config: Path) -> None:
    with WebReplDouble() as device:
        assert main(["push", "127.0.0.1", "-p", str(device.port), "--password", PASSWORD,
                     str(FIRMWARE / "main.py"), "-c", str(config), "/config.json"]) == 0
    assert device.files == {"/main.py": (FIRMWARE / "main.py").read_bytes(), "/config.json": config.read_bytes()}


def test_dry_run_lists_what_would_be_sent_and_connects_to_nothing(config: Path) -> None:
    with WebReplDouble() as device:
        result = ducorig("push", "127.0.0.1", "-p", str(device.port), "-c", str(config), "--dry-run")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines[:3]] == ["/boot.py", "/main.py", "/config.json"]
    assert f"{config.stat().st_size} B  from {config}" in lines[2]
    assert lines[3] == f"dry run: nothing sent (would write to 127.0.0.1:{device.port} with WebREPL)"
    assert device.files == {} and device.sessions == 0


def test_the_unedited_example_is_refused_before_connecting() -> None:
    with WebReplDouble() as device:
        err = failed_cleanly(ducorig("push", "127.0.0.1", "-p", str(device.port), "-c", str(EXAMPLE), "-n"), 1)
    assert "user: 'my-duco-user' is the example's placeholder" in err and device.sessions == 0


def test_no_password_and_no_terminal_to_ask_on_is_one_line() -> None:
    with WebReplDouble() as device:
        err = failed_cleanly(ducorig("push", "127.0.0.1", "-p", str(device.port)), 1)
    assert err == "push: no password: give it with --password (stdin is not a terminal to ask on)\n"
    assert device.sessions == 0


@pytest.mark.parametrize("name", [str(LIB / "worker.py"), "/lib/ducorig/rig.mpy", "/rom/ducorig/simi2c.mpy"])
def test_a_library_module_is_refused_with_the_way_to_update_it(
        name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with WebReplDouble() as device:
        assert main(["push", "127.0.0.1", "--port", str(device.port), "--password", PASSWORD, name]) == 1
    err = capsys.readouterr().err
    assert f"{name} is a library module" in err and "WebREPL cannot write" in err
    assert "update it over USB with `ducorig deploy`" in err
    assert device.files == {}


def test_a_file_push_does_not_send_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["push", "127.0.0.1", "--password", PASSWORD, "/webrepl_cfg.py"]) == 1
    assert "/webrepl_cfg.py is not a file push sends: /boot.py, /main.py" in capsys.readouterr().err


def test_a_bad_config_is_refused_by_key_before_connecting(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = json.loads(EXAMPLE.read_text())
    config["pool"]["port"] = 70000
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(config))
    with WebReplDouble() as device:
        assert main(["push", "127.0.0.1", "--port", str(device.port), "--password", PASSWORD,
                     "--config", str(bad)]) == 1
    assert "pool.port: 70000 is not a TCP port" in capsys.readouterr().err
    assert device.files == {}


@pytest.mark.parametrize("size", [0, 1, 125, 126, 1024, 1025, 70_000])
def test_files_of_every_frame_size_arrive_byte_identical(size: int) -> None:
    data = os.urandom(size)
    with WebReplDouble() as device, WebRepl("127.0.0.1", device.port, timeout=5) as repl:
        repl.login(PASSWORD)
        repl.put("/data.bin", data)
        repl.put("/again.bin", data[::-1])
    assert device.files == {"/data.bin": data, "/again.bin": data[::-1]}


def test_a_wrong_password_fails_clearly(capsys: pytest.CaptureFixture[str]) -> None:
    with WebReplDouble() as device:
        assert main(["push", "127.0.0.1", "--port", str(device.port), "--password", "guess"]) == 1
    assert "wrong WebREPL password" in capsys.readouterr().err
    assert device.files == {}


def test_a_stalled_device_times_out() -> None:
    with WebReplDouble("stall") as device, WebRepl("127.0.0.1", device.port, timeout=0.5) as repl:
        repl.login(PASSWORD)
        started = time.monotonic()
        with pytest.raises(WebReplError, match=r"timed out after 0.5 s waiting for the device to open /main.py"):
            repl.put("/main.py", b"print('hi')\n")
        assert time.monotonic() - started < 3


def test_a_refused_connection_names_the_five_connection_limit_in_lines_of_80_columns() -> None:
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    err = failed_cleanly(ducorig("push", "127.0.0.1", "--port", str(port), "--password", PASSWORD), 1)
    lines = err.splitlines()
    assert lines[0] == f"push: 127.0.0.1:{port} refused the connection:"
    assert "refuses WebREPL while 5 TCP connections are open" in err and "- stop the rig from the console" in err
    assert len(lines) > 3 and max(map(len, lines)) <= 80


def test_a_busy_device_that_hangs_up_says_why() -> None:
    with WebReplDouble("busy") as device, WebRepl("127.0.0.1", device.port, timeout=2) as repl:
        with pytest.raises(WebReplError, match="(?s)closed the connection .* one WebREPL session at a time"):
            repl.login(PASSWORD)
