"""A Pro Mini running the seed's slave sketch, hauchel/yaum `duino/duino.ino`
(VERSION 'c') on the stock Wire library, byte for byte and with its loop()
timing, as described in docs/i2c-protocol.md section 7. The names follow the
sketch's variables. The timings are the real sketch's, measured cycle-exactly
in simavr; each is a setting (`control`), so that tests on a real-time bus
can stretch one past the bus's jitter."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from ducorig_host.simbus.search import Search
from ducorig_host.simbus.wire import ERASED_EEPROM_ADDRESS, IDLE_LOOP_S, WIRE_BUFFER, WireSlave

VERSION = ord("c")
SPACE = ord(" ")  # slCmd when no command is pending
JOB_MAXSIZE = 104  # the sketch's job[] buffer for the decoded hash
A, B, C, D, E, H, I, L, M, N, O, R, S, V = b"ABCDEHILMNORSV"
H_LOWER = ord("h")  # doCmd treats h like H


def _measured_busy_us() -> dict[int, int]:
    # From the end of the write until the status stops reading B (the real
    # sketch in simavr). V (EEPROM write, Wire.begin, setup()'s prints) and
    # unknown letters were not measured. O and H start hashing at once:
    # their cost is the job's start-up (Timing.start_us).
    return {A: 50, D: 60, L: 722, M: 702, N: 692, I: 251, V: 10050, O: 50, H: 50, H_LOWER: 50}


@dataclass
class Timing:
    busy_us: dict[int, int] = field(default_factory=_measured_busy_us)
    other_busy_us: int = 250  # any other letter
    settle_us: int = 480  # after a hash, 'C?O' until loop() clears slCmd (see the docs)
    start_us: int = 1500  # per job, before the first nonce (hex decode, String set-up)

    def set(self, name: str, value: str) -> None:
        """`busy_<letter>` or a field name, in microseconds."""
        number = int(value)
        if number < 0:
            raise ValueError(f"{name} must not be negative")
        if name.startswith("busy_") and len(name) == 6:
            self.busy_us[ord(name[5])] = number
        elif name in ("other_busy_us", "settle_us", "start_us"):
            setattr(self, name, number)
        else:
            raise KeyError(name)

    def busy_s(self, command: int) -> float:
        return self.busy_us.get(command, self.other_busy_us) * 1e-6


class YaumSlave(WireSlave):
    protocol = "yaum"
    default_hashrate = 196.0  # cryptosuite SHA1 with String concatenation (hauchel/yaum duino/duino.ino)
    deaf_by_default = True  # stock Wire, nothing re-arms it

    def factory_reset(self, now: float) -> None:
        self.timing = Timing()
        super().factory_reset(now)

    def power_on(self, now: float) -> None:
        self.run_state = ord("I")  # runS: I B C
        self.run_result = VERSION  # runR: the version until a command, then '?'
        self.sl_cmd = SPACE  # slCmd: set by the receive ISR, run by loop()
        self.received_at = now
        # Wire's RX buffer: the bytes of the last write that the sketch has not
        # read (the ISR reads only the first). While any wait, stock Wire drops
        # every incoming write whole (Wire.cpp onReceiveService).
        self.unread = b""
        self.current: int | None = None  # the command loop() picked up
        self.to_run = False  # picked up, doCmd not run yet
        self.finish_at = now  # when doCmd returns (or, after a hash, loop() clears slCmd)
        self.loop_free_at = now
        self.recv_buf = bytearray(WIRE_BUFFER)  # recvBuf: stale bytes stay
        self.recv_len = 0
        self.back = b""  # backBuf[0:backP], what a read returns
        self.back_is = 0  # the letter whose reply backBuf holds (S, R, E, I), 0: none
        self.last_hash = b""  # lastblockhash
        self.new_hash = b""  # newblockhash
        self.difficulty = 10
        self.result = 0  # ducos1result
        self.elapsed_ms = 0  # ducos1tim
        self.job = bytearray(JOB_MAXSIZE)
        self.search: Search | None = None  # ducos1a() running inside doCmd
        self.hash_began = now  # when hashme() began (millis() at the start)
        self.reset_at: float | None = None  # fault reset_after

    def control(self, name: str, value: str, now: float) -> None:
        try:
            self.timing.set(name, value)
        except KeyError:
            super().control(name, value, now)

    # --- receiveEvent / requestEvent ------------------------------------------

    def on_receive(self, data: bytes, now: float) -> None:
        if self.unread:
            return  # the slave is locked for good if loop() never reads them
        command = data[0] if data else 0xFF  # Wire.read() of nothing is -1
        self.unread = data[1:]
        if command == S:
            self._reply(S, bytes((self.run_state, self.run_result, self.sl_cmd)))
        elif command == R:
            self._reply(R, b"%5d" % self.result)
        elif command == E:
            self._reply(E, b"%5d" % self.elapsed_ms)
        else:
            self.run_state = B  # busy until loop() has run the command
            self.sl_cmd = command
            self.received_at = now

    def _reply(self, letter: int, text: bytes) -> None:
        self.back, self.back_is = text, letter

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
            elif now < self.finish_at:
                return
            elif self.to_run:
                self.to_run = False
                self._do_cmd(self.current, self.finish_at)
            else:
                self._end_command(self.finish_at)

    def _pick_up(self, t: float) -> None:
        self.current = self.sl_cmd
        self.to_run = True
        self.finish_at = t - IDLE_LOOP_S + self.timing.busy_s(self.current)
        self.run_result = ord("?")
        rx = self.unread[:WIRE_BUFFER - 1]
        self.recv_buf[0] = self.sl_cmd
        self.recv_buf[1:1 + len(rx)] = rx
        self.recv_len = 1 + len(rx)
        self.unread = b""

    def _end_command(self, t: float) -> None:
        # A command that came in meanwhile (e.g. during hashing) is dropped
        # here, and any bytes after its first stay unread in Wire's buffer.
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
            self._reply(I, b"%-22s  " % self.ducoid.encode())
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
        self.hash_began = t
        first_nonce_at = t + self.timing.start_us * 1e-6
        self.search = Search(self.last_hash, bytes(self.job[:20]), self.difficulty * 100, rate, first_nonce_at)
        if self.faults.reset_after >= 0:
            self.reset_at = first_nonce_at + self.faults.reset_after / self.hashrate
            self.faults.reset_after = -1

    def _hash_until(self, now: float) -> bool:
        """Run the hash up to now; True once it is over (found, exhausted, or reset)."""
        assert self.search is not None
        self.search.advance(now if self.reset_at is None else min(now, self.reset_at))
        if self.search.finished:
            end = self.search.end
            self.result = self.search.found or 0  # ducos1a() returns 0 when nothing matches
            self.elapsed_ms = (_millis(end) - _millis(self.hash_began)) & 0xFFFF
            self.run_state = C  # while slCmd still holds the O: 'C?O' until finish_at
            self.finish_at = end + self.timing.settle_us * 1e-6
            self.search = self.reset_at = None
            return True
        if self.reset_at is not None and now >= self.reset_at:
            self.reboot(self.reset_at)
            return True
        return False

    # --- what the bus asks ----------------------------------------------------

    @property
    def result_selected(self) -> bool:
        return self.back_is == R

    @property
    def status_selected(self) -> bool:
        return self.back_is == S

    @property
    def hashing(self) -> bool:
        return self.search is not None

    def nonce_time(self) -> float:
        return self.search.nonce_time() if self.search else IDLE_LOOP_S


def _millis(t: float) -> int:
    """The AVR's millis() at bus time t: whole milliseconds, so an elapsed
    time reads 6 or 7 ms for 6.6 ms, as the real clock's phase falls."""
    return math.floor(t * 1000)
