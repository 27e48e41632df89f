"""A WebREPL client (standard library only) that logs in and writes files.

The protocol, as MicroPython's extmod/modwebrepl.c serves it and
micropython/webrepl's webrepl_cli.py speaks it:

- a websocket upgrade on TCP 8266; the device checks only the Connection,
  Upgrade and Sec-WebSocket-Key headers (case-sensitive names);
- the device sends the text "Password: "; the client answers password + CR;
  the device replies "WebREPL connected" or "Access denied";
- text frames are REPL keystrokes and output, binary frames file operations;
- a PUT is an 82-byte request record, little-endian "<2sBBQLH64s": b"WA",
  op 1, flags, offset (ignored), size, name length, name (NUL-padded), sent
  in binary frames; the device answers b"WB" + u16 status (0: ok) once the
  file is open, takes exactly `size` bytes, and answers again once written.

Client frames are masked (RFC 6455) and below 64 KiB (the device's websocket
rejects 64-bit lengths). The device has no mkdir over this protocol: a PUT
into a missing directory fails inside the device and gets no answer."""
from __future__ import annotations

import base64
import hashlib
import os
import socket
import struct

PORT = 8266
REQUEST = struct.Struct("<2sBBQLH64s")
PUT = 1
TEXT, BINARY, CLOSE = 0x1, 0x2, 0x8
CHUNK = 1024  # bytes per data frame, as webrepl_cli sends them
MAX_NAME = 63  # the device reads the 64-byte name field as a C string
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# Hints follow the error on lines of their own, at most 80 columns.
BUSY_HINT = ("the ESP8266 refuses WebREPL while 5 TCP connections are open (the rig holds\n"
             "one per slave) and serves one WebREPL session at a time:\n"
             "- stop the rig from the console first (key q);\n"
             "- close other WebREPL clients;\n"
             "- check that WebREPL is started (`import webrepl_setup` over USB, once).")
NO_FOLDER_HINT = ("does its folder exist? WebREPL cannot create one: deploy once over USB\n"
                  "with `ducorig deploy`")


class WebReplError(Exception):
    pass


class WebRepl:
    """One WebREPL session; every read and write times out after `timeout` s."""

    def __init__(self, host: str, port: int = PORT, timeout: float = 10.0):
        self.where = f"{host}:{port}"
        self.timeout = timeout
        self._pending = b""  # bytes received, not yet parsed into frames
        self._binary = bytearray()  # binary payload received, not yet consumed
        self._text = bytearray()  # text payload received, not yet consumed
        self._hint = f":\n{BUSY_HINT}"  # why a device hangs up or stays silent before its prompt
        try:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        except ConnectionRefusedError:
            raise WebReplError(f"{self.where} refused the connection:\n{BUSY_HINT}") from None
        except TimeoutError:
            raise WebReplError(f"{self.where}: no connection within {timeout:g} s:\n{BUSY_HINT}") from None
        except OSError as e:
            raise WebReplError(f"cannot connect to {self.where}: {e.strerror or e}") from None
        # Small frames then a wait for the answer: Nagle would hold each one
        # back until the device's delayed ACK.
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self._upgrade(host, port)
        except BaseException:
            self.sock.close()
            raise

    def __enter__(self) -> WebRepl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Say goodbye (frees the device's one WebREPL session at once), close."""
        try:
            self._send(CLOSE, b"")
        except (OSError, WebReplError):
            pass
        self.sock.close()

    def login(self, password: str) -> None:
        self._read_text_until((b"Password: ",), "the password prompt")
        self._hint = ""
        self._send(TEXT, password.encode() + b"\r")
        answer = self._read_text_until((b"WebREPL connected", b"Access denied"), "the login answer")
        if b"Access denied" in answer:
            raise WebReplError(f"{self.where}: wrong WebREPL password (access denied):\n"
                               "it is the device's webrepl_cfg.PASS, 4 to 9 characters")

    def put(self, name: str, data: bytes) -> None:
        """Write data to the file `name` on the device (its directory must exist)."""
        raw = name.encode()
        if len(raw) > MAX_NAME:
            raise WebReplError(f"{name}: a WebREPL file name has at most {MAX_NAME} bytes")
        request = REQUEST.pack(b"WA", PUT, 0, 0, len(data), len(raw), raw)
        # Two frames, as webrepl_cli sends it: the split every device has seen.
        self._send(BINARY, request[:10])
        self._send(BINARY, request[10:])
        self._hint = f":\n{NO_FOLDER_HINT}"
        self._expect_ok(f"the device to open {name}")
        self._hint = ""
        for start in range(0, len(data), CHUNK):
            self._send(BINARY, data[start:start + CHUNK])
        self._expect_ok(f"the device to write {name}")

    # --- websocket ---------------------------------------------------------

    def _upgrade(self, host: str, port: int) -> None:
        key = base64.b64encode(os.urandom(16))
        self._sendall(b"GET / HTTP/1.1\r\nHost: %s:%d\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                      b"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (host.encode(), port, key))
        response = b""
        while b"\r\n\r\n" not in response:
            if len(response) > 4096:
                raise WebReplError(f"{self.where}: not a WebREPL (an endless HTTP header)")
            response += self._recv(4096, "the websocket handshake")
        head, _, self._pending = response.partition(b"\r\n\r\n")  # frames may follow at once
        accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest())
        if not head.startswith(b"HTTP/1.1 101") or b"Sec-WebSocket-Accept: " + accept not in head:
            status = head.split(b"\r\n", 1)[0]
            raise WebReplError(f"{self.where}: not a WebREPL websocket (it answered {status!r})")

    def _send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        size = len(payload)
        if size < 126:
            header = struct.pack(">BB", 0x80 | opcode, 0x80 | size)
        else:
            header = struct.pack(">BBH", 0x80 | opcode, 0x80 | 126, size)
        self._sendall(header + mask + _masked(payload, mask))

    def _sendall(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except TimeoutError:
            raise WebReplError(f"{self.where}: timed out after {self.timeout:g} s sending") from None
        except OSError as e:
            raise WebReplError(f"{self.where}: connection lost while sending: {e.strerror or e}") from None

    def _recv(self, size: int, waiting_for: str) -> bytes:
        try:
            data = self.sock.recv(size)
        except TimeoutError:
            raise WebReplError(f"{self.where}: timed out after {self.timeout:g} s waiting for {waiting_for}"
                               f"{self._hint}") from None
        except OSError as e:
            raise WebReplError(f"{self.where}: connection lost waiting for {waiting_for}: {e.strerror or e}") \
                from None
        if not data:
            raise WebReplError(f"{self.where} closed the connection while we waited for {waiting_for}{self._hint}")
        return data

    def _exactly(self, size: int, waiting_for: str) -> bytes:
        while len(self._pending) < size:
            self._pending += self._recv(65536, waiting_for)
        data, self._pending = self._pending[:size], self._pending[size:]
        return data

    def _frame(self, waiting_for: str) -> None:
        """Read one frame into the text or binary buffer."""
        first, second = self._exactly(2, waiting_for)
        size = second & 0x7F
        if size >= 126:
            size = int.from_bytes(self._exactly(2 if size == 126 else 8, waiting_for), "big")
        mask = self._exactly(4, waiting_for) if second & 0x80 else None  # servers should not mask (RFC 6455)
        payload = self._exactly(size, waiting_for)
        if mask:
            payload = _masked(payload, mask)
        opcode = first & 0x0F
        if opcode == CLOSE:
            raise WebReplError(f"{self.where} closed the session while we waited for {waiting_for}{self._hint}")
        if opcode == TEXT:
            self._text += payload
        elif opcode == BINARY:
            self._binary += payload
        # ping/pong and continuations: the device sends none; ignored

    def _read_text_until(self, endings: tuple[bytes, ...], waiting_for: str) -> bytes:
        while not any(e in self._text for e in endings):
            self._frame(waiting_for)
        text = bytes(self._text)
        self._text.clear()
        return text

    def _expect_ok(self, waiting_for: str) -> None:
        """Read a b"WB" + status answer; REPL output (text) on the way is dropped."""
        while len(self._binary) < 4:
            self._frame(waiting_for)
        self._text.clear()
        answer = bytes(self._binary[:4])
        del self._binary[:4]
        signature, status = struct.unpack("<2sH", answer)
        if signature != b"WB" or status != 0:
            raise WebReplError(f"{self.where}: unexpected answer {answer!r} while waiting for {waiting_for}"
                               f"{self._hint}")


def _masked(data: bytes, mask: bytes) -> bytes:
    """data XOR the 4-byte mask repeated (RFC 6455 5.3), as one big-int operation."""
    keystream = (mask * (len(data) // 4 + 1))[:len(data)]
    return (int.from_bytes(data, "big") ^ int.from_bytes(keystream, "big")).to_bytes(len(data), "big")
