"""A Pro Mini running our sketch: the ducorig protocol of docs/i2c-protocol.md
(wire version `e`), byte for byte.
(The sketch itself, firmware/minipro, runs the same suite in simavr: avr.py.)"""
from __future__ import annotations

from binascii import unhexlify

from ducorig import proto
from ducorig_host.simbus.search import Search
from ducorig_host.simbus.wire import IDLE_LOOP_S, WireSlave

HEX = frozenset(b"0123456789abcdefABCDEF")
DIGITS = frozenset(b"0123456789")
ADDRESS_CHANGE_S = 0.004  # loop() writes EEPROM (3.3 ms) and restarts Wire
SELECTORS = proto.STATUS + proto.RESULT + proto.ELAPSED + proto.DUCOID
WAIT_FOR_IDLE = b"LMNOHDV"  # commands refused ('!') while hashing
MIN_RATE_CAP = 16  # W1..W15 act as 16: the 32-bit elapsed_us of a diff-655 job must not wrap
A, D, H, L, M, N, O, V, W, X = b"ADHLMNOVWX"


def _is(chars: frozenset[int], text: bytes, min_len: int, max_len: int) -> bool:
    return min_len <= len(text) <= max_len and all(c in chars for c in text)


class DucorigSlave(WireSlave):
    protocol = "ducorig"
    # Flat out; the rate cap (W, default 370) may slow it further. (The real
    # sketch does 2,052 H/s flat out at 16 MHz; 340 is the official duco_hash.)
    default_hashrate = 340.0

    def power_on(self, now: float) -> None:
        self.state = proto.BOOTED
        self.verdict = proto.OK
        self.selected = proto.STATUS[0]
        self.job_text = b""  # payloads of the job chunks received so far
        self.next_chunk: int | None = None  # the chunk letter the transfer expects
        self.last_hash = b""  # the stored job (checked), hashed again by H
        self.target = b""
        self.diff = 0
        self.rate_cap = proto.DEFAULT_RATE_CAP  # H/s, 0 = none; W sets it, for the next job on
        self.search: Search | None = None  # the running or finished hash
        self.abort_at: float | None = None  # A arrived while hashing
        self.reset_at: float | None = None  # fault reset_after
        self.moving_to: tuple[int, float] | None = None  # V: (address, when)

    # --- loop() --------------------------------------------------------------

    def advance(self, now: float) -> None:
        if self.moving_to and now >= self.moving_to[1]:
            self.address = self.moving_to[0]
            self.moving_to = None
        if self.state != proto.BUSY:
            return
        assert self.search is not None
        if self.abort_at is not None:
            if now >= self.abort_at:  # the hash loop checks the abort flag per nonce
                self._drop_job()
                self.state = proto.IDLE
            return
        self.search.advance(now if self.reset_at is None else min(now, self.reset_at))
        if self.search.finished:
            self.state = proto.FOUND if self.search.found is not None else proto.NOT_FOUND
            self.reset_at = None
        elif self.reset_at is not None and now >= self.reset_at:
            self.reboot(self.reset_at)

    # --- onReceive -----------------------------------------------------------

    def on_receive(self, data: bytes, now: float) -> None:
        if not data:
            return  # a scan's address probe
        if len(data) >= proto.MAX_TRANSFER:
            self.on_overlong(now)
            return
        letter, payload = data[0], data[1:]
        if letter in SELECTORS:
            self.selected = letter
            return
        self.selected = proto.STATUS[0]
        handler = {A: self._clear, L: self._chunk, M: self._chunk, N: self._chunk, O: self._last_chunk,
                   H: self._rehash, D: self._set_difficulty, V: self._set_address, W: self._set_rate_cap,
                   X: self._reset}.get(letter)
        if handler is None:
            self.verdict = proto.UNKNOWN
        elif self.state == proto.BUSY and letter in WAIT_FOR_IDLE:
            self.verdict = proto.NOT_NOW
        else:
            self.verdict = proto.OK
            handler(letter, payload, now)

    def on_overlong(self, now: float) -> None:
        self.verdict = proto.TOO_LONG
        self.selected = proto.STATUS[0]

    def _clear(self, letter: int, payload: bytes, now: float) -> None:
        if payload:
            self.verdict = proto.BAD_ARG
        elif self.state == proto.BUSY:
            assert self.search is not None
            self.abort_at = now + self.search.nonce_time()
        else:
            self._drop_job()
            self.state = proto.IDLE

    def _chunk(self, letter: int, payload: bytes, now: float) -> None:
        if letter != L and letter != self.next_chunk:
            self._refuse(proto.OUT_OF_ORDER)
        elif not _is(HEX, payload, 20, 20):
            self._refuse(proto.BAD_ARG)
        else:
            self.job_text = payload if letter == L else self.job_text + payload
            self.next_chunk = letter + 1  # L -> M -> N -> O
            self.state = proto.LOADING

    def _last_chunk(self, letter: int, payload: bytes, now: float) -> None:
        fields = payload.split(b",")
        if letter != self.next_chunk:
            self._refuse(proto.OUT_OF_ORDER)
        elif not (len(fields) == 3 and _is(HEX, fields[0], 20, 20)
                  and _is(DIGITS, fields[1], 1, proto.DIFF_DIGITS) and _is(HEX, fields[2], 2, 2)):
            self._refuse(proto.BAD_ARG)
        elif proto.crc8(self.job_text + payload[:-2]) != int(fields[2], 16):
            self._drop_job()
            self.state = proto.CRC_ERROR
        elif not 1 <= int(fields[1]) <= proto.MAX_DIFF:
            self._refuse(proto.TOO_HARD)
        else:
            self.last_hash = self.job_text[:40]
            self.target = unhexlify(self.job_text[40:] + fields[0])
            self.diff = int(fields[1])
            self._start_hashing(now)

    def _rehash(self, letter: int, payload: bytes, now: float) -> None:
        if payload:
            self.verdict = proto.BAD_ARG
        elif self.state not in (proto.FOUND, proto.NOT_FOUND):
            self.verdict = proto.NOT_NOW
        else:
            self._start_hashing(now)

    def _set_difficulty(self, letter: int, payload: bytes, now: float) -> None:
        if not _is(DIGITS, payload, 1, proto.DIFF_DIGITS):
            self.verdict = proto.BAD_ARG
        elif not 1 <= int(payload) <= proto.MAX_DIFF:
            self.verdict = proto.TOO_HARD
        else:
            self.diff = int(payload)

    def _set_address(self, letter: int, payload: bytes, now: float) -> None:
        if not (_is(DIGITS, payload, 2, 2) and 8 <= int(payload) <= 99):
            self.verdict = proto.BAD_ARG
        else:
            self.eeprom_address = int(payload)
            self.moving_to = (self.eeprom_address, now + ADDRESS_CHANGE_S)

    def _set_rate_cap(self, letter: int, payload: bytes, now: float) -> None:
        if not _is(DIGITS, payload, 1, 4):
            self.verdict = proto.BAD_ARG
        else:
            self.rate_cap = int(payload)

    def _reset(self, letter: int, payload: bytes, now: float) -> None:
        if payload:
            self.verdict = proto.BAD_ARG
        else:
            self.reboot(now)  # the watchdog: wdt_enable(WDTO_15MS) and wait

    def capped(self, rate: float) -> float:
        """The rate a job runs at: the sketch idles between nonces to stay at or
        under the cap, and its elapsed time includes the idling."""
        return min(rate, max(self.rate_cap, MIN_RATE_CAP)) if self.rate_cap else rate

    def _refuse(self, verdict: int) -> None:
        self._drop_job()
        self.state = proto.REFUSED
        self.verdict = verdict

    def _drop_job(self) -> None:
        self.job_text = b""
        self.next_chunk = None
        self.search = None
        self.abort_at = None
        self.reset_at = None

    def _start_hashing(self, now: float) -> None:
        self.next_chunk = None  # another O needs a new L, M, N
        rate = 0.0 if self.faults.hung else self.capped(self.hashrate)
        self.search = Search(self.last_hash, self.target, 100 * self.diff, rate, now)
        if self.faults.reset_after >= 0:
            self.reset_at = now + self.faults.reset_after / self.capped(self.hashrate)
            self.faults.reset_after = -1
        self.state = proto.BUSY

    # --- onRequest -----------------------------------------------------------

    def on_request(self, now: float) -> bytes:
        nonce, elapsed_us = self._result()
        if self.selected == proto.RESULT[0]:
            return self._with_crc(b"%c%05d,%010d," % (self.state, nonce, elapsed_us))
        if self.selected == proto.ELAPSED[0]:
            return b"%5d" % (elapsed_us // 1000 & 0xFFFF)  # yaum's uint16 ms
        if self.selected == proto.DUCOID[0]:
            return self._with_crc(self.ducoid.encode() + b",")
        return bytes((self.state, proto.WIRE_VERSION, self.verdict))

    def _result(self) -> tuple[int, int]:
        """(nonce, elapsed us) of the result held, else (0, 0)."""
        if self.search is None or not self.holds_result():
            return 0, 0
        return self.search.nonce, round(self.search.elapsed_s * 1e6) & 0xFFFFFFFF  # micros() is 32-bit

    @staticmethod
    def _with_crc(text: bytes) -> bytes:
        return text + proto.crc_field(proto.crc8(text))

    # --- what the bus asks ---------------------------------------------------

    @property
    def result_selected(self) -> bool:
        return self.selected == proto.RESULT[0]

    @property
    def status_selected(self) -> bool:
        return self.selected == proto.STATUS[0]

    @property
    def hashing(self) -> bool:
        return self.state == proto.BUSY

    def nonce_time(self) -> float:
        return self.search.nonce_time() if self.search else IDLE_LOOP_S

    def holds_result(self) -> bool:
        return self.state in (proto.FOUND, proto.NOT_FOUND)
