"""A deliberately broken pool for bad-input tests of the device pool client.

It greets like a pool (version line), then answers the first message after it
according to the username of `JOB,<user>,...`, so device tests on both
runtimes pick a misbehaviour by name. Runs in a daemon thread on loopback."""
from __future__ import annotations

import socket
import threading
import time

JOB = b"ba29a15896fd2d792d5c4b60668bf2b9feebc51d,d0beba883d7e8cd119ea2b0e09b78f60f29e0968,10\n"

# username -> list of (delay before sending, bytes); None closes the socket
SCRIPTS: dict[str, list[tuple[float, bytes | None]]] = {
    "split": [(0.0, JOB[:20]), (0.05, JOB[20:61]), (0.05, JOB[61:])],  # one line, three segments
    "midline": [(0.0, JOB[:30]), (0.0, None)],
    "nonascii": [(0.0, b"\xff\xfe\xfd,\xc3\xa9,8\n")],
    "overlong": [(0.0, b"a" * 400)],
    "twofields": [(0.0, JOB[:81] + b"\n")],
    "nonnumeric": [(0.0, JOB[:82] + b"ten\n")],
    "silentclose": [(0.0, None)],
}


class BadPool:
    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.sendall(b"2.5\n")
                fields = conn.recv(256).decode("ascii", "replace").split(",")
                user = fields[1] if len(fields) > 1 else ""
                for delay, data in SCRIPTS.get(user, [(0.0, None)]):
                    time.sleep(delay)
                    if data is None:
                        return
                    conn.sendall(data)
                conn.recv(256)  # hold the line open until the client gives up
            except OSError:
                pass

    def close(self) -> None:
        self.sock.close()
