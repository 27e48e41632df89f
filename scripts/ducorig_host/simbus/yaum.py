"""A Pro Mini running the seed's slave sketch, hauchel/yaum `duino/duino.ino`
(VERSION 'c'), byte for byte and with its loop() timing, as described in
docs/i2c-protocol.md section 7. The names follow the sketch's variables."""
from __future__ import annotations

from ducorig_host.simbus.search import Search
from ducorig_host.simbus.wire import ERASED_EEPROM_ADDRESS, IDLE_LOOP_S, WIRE_BUFFER, WireSlave

VERSION = ord("c")
SPACE = ord(" ")  # slCmd when no command is pending
JOB_MAXSIZE = 104  # the sketch's job[] buffer for the decoded hash
A, B, C, D, E, H, I, L, M, N, O, R, S, V = b"ABCDEHILMNORSV"
H_LOWER = ord("h")  # doCmd treats h like H
COMMAND_S = {I: 0.001, V: 0.010}  # doCmd time beyond the default: sprintf, EEPROM + setup() prints
DEFAULT_COMMAND_S = 0.0002  # String appends of a chunk


class YaumSlave(WireSlave):
    protocol = "yaum"
    default_hashrate = 196.0  # cryptosuite SHA1 with String concatenation (slaves.md 2.1)
    deaf_by_default = True  # stock Wire, nothing re-arms it

    def power_on(self, now: float) -> None:
        self.run_state = ord("I")  # runS: I B C
        self.run_result = VERSION  # runR: the version until a command, then '?'
        self.sl_cmd = SPACE  # slCmd: set by the receive ISR, run by loop()
        self.received_at = now
        self.wire_rx = b""  # Wire's buffer after the command byte; the next write replaces it
        self.current: int | None = None  # the command loop() picked up
        self.picked_at = now
        self.loop_free_at = now
        self.recv_buf = bytearray(WIRE_BUFFER)  # recvBuf: stale bytes stay
        self.recv_len = 0
        self.back = b""  # backBuf[0:backP], what a read returns
        self.back_is_result = False
        self.last_hash = b""  # lastblockhash
        self.new_hash = b""  # newblockhash
        self.difficulty = 10
        self.result = 0  # ducos1result
        self.elapsed_ms = 0  # ducos1tim
        self.job = bytearray(JOB_MAXSIZE)
        self.search: Search | None = None  # ducos1a() running inside doCmd
        self.reset_at: float | None = None  # fault reset_after

    # --- receiveEvent / requestEvent ------------------------------------------

    def on_receive(self, data: bytes, now: float) -> None:
        command = data[0] if data else 0xFF  # Wire.read() of nothing is -1
        self.wire_rx = data[1:]
        if command == S:
            self.back, self.back_is_result = bytes((self.run_state, self.run_result, self.sl_cmd)), False
        elif command == R:
            self.back, self.back_is_result = b"%5d" % self.result, True
        elif command == E:
            self.back, self.back_is_result = b"%5d" % self.elapsed_ms, False
        else:
            self.run_state = B  # busy until loop() has run the command
            self.sl_cmd = command
            self.received_at = now

    def on_request(self, now: float) -> bytes:
        return self.back

    # --- loop() ---------------------------------------------------------------

    def advance(self, now: float) -> None:
        while True:
            if self.search is not None:
                if not self._hash_until(now):
                    return
            elif self.current is None:
                if self.sl_cmd == SPACE:
                    return
                start = max(self.received_at, self.loop_free_at) + IDLE_LOOP_S
                if now < start:
                    return
                self._pick_up(start)
            else:
                done = self.picked_at + COMMAND_S.get(self.current, DEFAULT_COMMAND_S)
                if now < done:
                    return
                self._do_cmd(self.current, done)
                if self.search is None:
                    self._end_command(done)

    def _pick_up(self, t: float) -> None:
        self.current = self.sl_cmd
        self.picked_at = t
        self.run_result = ord("?")
        rx = self.wire_rx[:WIRE_BUFFER - 1]
        self.recv_buf[0] = self.sl_cmd
        self.recv_buf[1:1 + len(rx)] = rx
        self.recv_len = 1 + len(rx)
        self.wire_rx = b""

    def _end_command(self, t: float) -> None:
        # A command that came in meanwhile (e.g. during hashing) is dropped here.
        self.current = None
        self.sl_cmd = SPACE
        if self.run_state != C:
            self.run_state = ord("I")
        self.loop_free_at = t

    def _do_cmd(self, command: int, t: float) -> None:
        payload = bytes(self.recv_buf[1:self.recv_len])
        if command == A:
            self.run_state, self.run_result, self.sl_cmd = ord("I"), VERSION, SPACE
        elif command == L:
            self.last_hash = payload
        elif command == M:
            self.last_hash += payload
        elif command == N:
            self.new_hash = payload
        elif command == O:
            self.new_hash += payload
            self._hashme(t)
        elif command == D:
            self.difficulty = self._sl_num()
        elif command in (H, H_LOWER):
            self._hashme(t)
        elif command == I:
            self.back, self.back_is_result = b"%-22s  " % self.ducoid.encode(), False
        elif command == V:
            self.eeprom_address = self._sl_num()
            self.address = self.eeprom_address if self.eeprom_address <= 127 else ERASED_EEPROM_ADDRESS

    def _sl_num(self) -> int:
        """slNum(): recvBuf[1..2] as two digits, unchecked, into a uint8_t."""
        return ((self.recv_buf[1] - 48) * 10 + (self.recv_buf[2] - 48)) & 0xFF

    def _hashme(self, t: float) -> None:
        self.new_hash = self.new_hash.upper()  # newblockhash.toUpperCase()
        c = self.new_hash
        for j in range(min(len(c) >> 1, JOB_MAXSIZE)):
            self.job[j] = (((((c[2 * j] & 0x1F) + 9) % 25) << 4) + ((c[2 * j + 1] & 0x1F) + 9) % 25) & 0xFF
        rate = 0.0 if self.faults.hung else self.hashrate
        self.search = Search(self.last_hash, bytes(self.job[:20]), self.difficulty * 100, rate, t)
        if self.faults.reset_after >= 0:
            self.reset_at = t + self.faults.reset_after / self.hashrate
            self.faults.reset_after = -1

    def _hash_until(self, now: float) -> bool:
        """Run the hash up to now; True once it is over (found, exhausted, or reset)."""
        assert self.search is not None
        self.search.advance(now if self.reset_at is None else min(now, self.reset_at))
        if self.search.finished:
            self.result = self.search.found or 0  # ducos1a() returns 0 when nothing matches
            self.elapsed_ms = int(self.search.elapsed_s * 1000) & 0xFFFF
            self.run_state = C
            end = self.search.end
            self.search = self.reset_at = None
            self._end_command(end)
            return True
        if self.reset_at is not None and now >= self.reset_at:
            self.reboot(self.reset_at)
            return True
        return False

    # --- what the bus asks ----------------------------------------------------

    @property
    def result_selected(self) -> bool:
        return self.back_is_result

    @property
    def hashing(self) -> bool:
        return self.search is not None

    def nonce_time(self) -> float:
        return self.search.nonce_time() if self.search else IDLE_LOOP_S
