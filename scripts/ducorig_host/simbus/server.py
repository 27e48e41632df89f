"""The bus server: a Bus on a loopback TCP port for the device-side shim
(`ducorig.simbus`). One text line per request, one per reply
(docs/i2c-protocol.md section 8):

    WRITE <addr> <timeout_us> <hex|->   -> OK <acks> <stretch_us> | NACK | TIMEOUT
    READ <addr> <timeout_us> <n>        -> OK <hex|-> <stretch_us> | NACK | TIMEOUT
    SCAN <first> <last> <timeout_us>    -> OK <addr> ...
    READY                               -> OK <0|1>
    WATCH                               -> <0|1> now, then a line at every change
                                           of the ready line (the pin IRQ of the sim)
    CTL <home addr> <name> <value>      -> OK
    anything wrong                      -> ERR <text>
"""
from __future__ import annotations

import socketserver
import threading
import time

from ducorig_host.simbus.bus import Bus, Outcome

WATCH_PERIOD_S = 0.001


def answer(bus: Bus, line: str) -> str:
    try:
        match line.split():
            case ["WRITE", address, timeout_us, data]:
                outcome = bus.write(int(address), b"" if data == "-" else bytes.fromhex(data), int(timeout_us))
                return _reply(outcome, f"{outcome.acks} {outcome.stretch_us}")
            case ["READ", address, timeout_us, n]:
                outcome = bus.read(int(address), int(n), int(timeout_us))
                return _reply(outcome, f"{outcome.data.hex() or '-'} {outcome.stretch_us}")
            case ["SCAN", first, last, timeout_us]:
                return " ".join(["OK", *map(str, bus.scan(int(first), int(last), int(timeout_us)))])
            case ["READY"]:
                return f"OK {bus.ready()}"
            case ["CTL", home, name, value]:
                bus.control(int(home), name, value)
                return "OK"
        return f"ERR unknown request {line.strip()[:60]!r}"
    except ValueError as e:
        return f"ERR {e}"


def _reply(outcome: Outcome, ok_fields: str) -> str:
    return f"OK {ok_fields}" if outcome.kind == "OK" else outcome.kind


class _Handler(socketserver.StreamRequestHandler):
    disable_nagle_algorithm = True  # one small reply per request: send it now
    server: _Server

    def handle(self) -> None:
        try:
            for line in self.rfile:
                if line.strip() == b"WATCH":
                    self._watch()
                    return
                self.wfile.write(answer(self.server.bus, line.decode("ascii", "replace")).encode() + b"\n")
        except ConnectionResetError:  # the controller went away (stopped or killed): its business
            pass

    def _watch(self) -> None:
        """Report the ready line's level at every change, sampled each
        millisecond (host CPU, not the controller's: like a pin interrupt).
        A fall that a master's READY saw counts too: a pulse high shorter
        than a sample (one result read and cleared, the next one done) would
        otherwise be an edge the pin interrupt gets and the sim loses."""
        seen = None
        try:
            while True:
                now = self.server.bus.ready_state()
                if now != seen:
                    seen = now
                    self.wfile.write(b"%d\n" % now[0])
                time.sleep(WATCH_PERIOD_S)
        except OSError:
            return  # the controller went away


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], bus: Bus):
        super().__init__(address, _Handler)
        self.bus = bus


class BusServer:
    """A Bus served on 127.0.0.1 (port 0: any free port) from a daemon thread."""

    def __init__(self, bus: Bus, host: str = "127.0.0.1", port: int = 0):
        self.bus = bus
        self._server = _Server((host, port), bus)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name="simbus", daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> BusServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
