# The slave conformance suite (docs/i2c-protocol.md): every command, reply,
# state transition and bad input of the ducorig protocol, and the subset the
# seed's yaum protocol has, one test name per behaviour for every implementation.
#
# It reaches "a slave at address A on a bus" only through the I2C shim, so any
# bus backend (the models, the sketch in simavr) runs it unchanged;
# the one control it needs from a backend is "factory" (power-cycle to factory
# state), before each test. A binding file calls bind(). Buses come from
# tests/services.py: DUCORIG_<BUS>=host:port and DUCORIG_<BUS>_SLAVES=
# role=address,... (read when a test runs, never at import).
#
# The behaviours are transcripts, one per protocol, keyed by its wire version
# byte (e: ducorig, c: yaum; status byte 1), because the suite must
# compile in MicroPython's 64 KB test heap, where a table of text costs a
# fraction of the code it replaces. Steps ('_' in a reply is a space):
#   >text    write text (ACKed in full)          w<n>  an n-byte write "L000..."
#   =XYZ     S, then the 3-byte status is XYZ    <XYZ  reads alone until XYZ
#   .XYZ     S + read until not busy, then XYZ   ?XYZ  until XYZ, also off the bus
#   J<a>[/<d>]  a job with nonce a, difficulty d (6); J* hashes for minutes.
#               ducorig: L M N O back to back; yaum: D L M N O, each when not busy
#   L M N O  a chunk of the transcript's own job (nonce 300, diff 6), as is or
#            with x (a non-hex digit), c (a wrong CRC), :tail (O's hex + tail)
#   r<...>   the result: ducorig state and nonce (rC7, rN100, rI0), yaum nonce (r7)
#   h[<n>]   the hashrate of that result is an AVR's: above 50, at most n H/s (1000)
#   d        the DUCOID reply                    v<XYZ> move (V) and back, XYZ each time
#   s        on the scan     p  reads past the reply give 0xFF     t  repeated start
#   i        result reads are idempotent         e<n>[-<m>]  the E reply is n (to m) ms
#   z<ms>    sleep           ok the next good job works
#   k<name>=<value>  a model setting (yaum's timings: stretched past the jitter
#            of a real-time bus; the exact figures are pinned on a fake clock
#            in tests/host/test_simbus_models.py)
import hashlib
import os
import random
import sys
import time
from binascii import hexlify
from errno import ENODEV

from ducorig import duco, proto
from ducorig.simi2c import SimI2C, slave_address
from ducorig.ticks import ticks_add, ticks_diff, ticks_ms

FREQ = 100000  # the protocol's reference clock
DUCORIG = "e"  # proto.WIRE_VERSION
YAUM = "c"  # proto.YAUM_WIRE_VERSION

# A behaviour, then its transcript for ducorig (e) and, where yaum has it, yaum (c).
TRANSCRIPTS = """
present_on_scan
  e s
  c s
read_past_reply_end
  e p
  c p
repeated_start
  e t
  c t
status_after_power_on
  e =Ze_
  c =Ic_
status_after_clear
  e >A =Ie_
  c >Q .I?_ >A .Ic_
unknown_command
  e >Q =Ze? >s =Ze? >w370 =Ze? ok
  c >Q .I?_
job_found
  e J7 .Ce_ rC7
  c J7 .C?_ r7
hashrate_from_elapsed
  e J20 .Ce_ rC20 h370
  c J20 .C?_ r20 h
result_reads_are_idempotent
  e J4 .Ce_ i
  c J4 .C?_ i
not_found
  e J101/1 .Ne_ rN100 h
  c J101/1 .C?_ r0
ducoid
  e d
  c d
address_change
  e vZe_
  c vI?_
command_while_hashing
  e J* L =Be! M =Be! N =Be! O =Be! >H =Be! >D6 =Be! >V50 =Be! >A ?Ie_ ok
  c J100/1 >A =B?A .C?_ r100
nothing_ready
  e rZ0 >A rI0 e0 J* rB0 >A ?Ie_ ok
  c r0 e0
rehash
  e J60 .Ce_ >H =Be_ .Ce_ rC60
  c J9 .C?_ >H .C?_ r9
difficulty_command
  e J150 .Ce_ >D0 =Ce+ >D656 =Ce+ >D1x =Ce# >D =Ce# >D1 =Ce_ >H .Ne_ rN100
  c J150/1 .C?_ r0 >D02 .I?_ >H .C?_ r150
status_poll
  e J60 >S <Be_ <Ce_
  c J30 =B?O z300 <B?O .C?_
zero_length_write
  e J2 .Ce_ > s =Ce_ rC2
  c J2 .C?_ > .I?_ r2
job_loading_states
  e L =Le_ M =Le_ N =Le_ O =Be_
clear_aborts_hashing
  e J* =Be_ >A ?Ie_ ok
over_long_write_32
  e w32 ?Ze> ok
over_long_write_33
  e w33 ?Ze> ok
over_long_write_40
  e w40 ?Ze> ok
bad_hex_refused
  e Lx =Re# M N O =Re^ L M N Ox =Re# ok
malformed_last_chunk
  e L M N O: =Re# L M N O:,6, =Re# L M N O:,,A0 =Re# L M N O:,6,,A0 =Re# L M N O:,6,A01 =Re# ok
chunk_out_of_order
  e M =Re^ L N =Re^ L M O =Re^ L M N N =Re^ O =Re^ ok O =Re^
crc_mismatch
  e L M N Oc =Ee_ ok
difficulty_out_of_range
  e J3/656 =Re+ J3/0 =Re+ ok
reset_command
  e J* =Be_ >X ?Ze_ ok
reset_during_transfer
  e L M >X ?Ze_ N O =Re^ ok
clear_during_transfer
  e L M >A =Ie_ N O =Re^ ok
bad_address_change
  e >V07 =Ze# >V100 =Ze# >V1 =Ze# >Vab =Ze# >V =Ze# >V8 =Ze# ok
payload_on_bare_commands
  e >AA =Ze# >HH =Ze# >X0 =Ze# ok
selectors_keep_verdict
  e >Q =Ze? >I =Ze? >R =Ze? >E =Ze?
rehash_needs_a_result
  e >H =Ze! >A >H =Ie!
data_command_while_hashing
  e J* >D6 =Be! >A ?Ie_ ok
  c J100/1 =B?O >D06 =B?O z700 =B?O >A =B?O >E =B?O p kfactory=1 =Ic_ J5 .C?_ r5
busy_times
  c kbusy_L=40000 >L0123456789abcdef0123 =B?L z80 =I?_ kbusy_A=40000 >A =B?A z80 =Ic_
brief_c_o_after_a_hash
  c ksettle_us=300000 J3 ?C?O z400 =C?_ r3
job_start_cost
  c kstart_us=100000 J0/1 .C?_ r0 e105-106
rate_cap
  e >W10000 =Ze# >W =Ze# >W1x =Ze# >W100 =Ze_ J30 .Ce_ rC30 h100 J* >W0 =Be_ >A ?Ie_ ok
"""

_buses = {}  # bus variable -> SimI2C: one connection per bus and process


def transcripts(protocol):
    """[(behaviour, transcript)] of `protocol` (DUCORIG or YAUM), in table order."""
    found = []
    for line in TRANSCRIPTS.split("\n"):
        if line[:1] not in (" ", ""):
            name = line
        elif line[2:4] == protocol + " ":
            found.append((name, line[4:]))
    return found


def bind(module, protocol, bus, role, fast_role):
    """A test_* function per behaviour of `protocol` in the module named
    `module`, each against the slave `role` on `bus` (seeded random jobs on
    `fast_role`). setattr, because MicroPython finds module attributes by
    interned name only, and a name built at run time is interned by setattr
    but not by an assignment into globals()."""
    tests = sys.modules[module]
    for name, script in transcripts(protocol):
        setattr(tests, "test_" + name, _test(bus, role, protocol, script))
    setattr(tests, "test_random_jobs_match_hashlib", _test(bus, fast_role, protocol, None))


def _test(bus, role, protocol, script):
    def test():
        if bus not in _buses:
            assert os.getenv(bus), os.getenv(bus + "_ERROR") or bus + " is not set"  # a bus that did not start
            _buses[bus] = SimI2C(os.getenv(bus), freq=FREQ)
        s = Slave(_buses[bus], slave_address(bus, role), protocol == YAUM)
        s.i2c.sim_control(s.home, "factory")
        if script:
            s.run(script)
        else:
            random_jobs(s)
    return test


def sha1_hex(text):
    return hexlify(hashlib.sha1(text).digest())


def new_job(answer):
    """(last_hash, expected_hash) whose nonce is `answer`, as bytes (the codec's)."""
    last = sha1_hex(b"%d" % random.getrandbits(30))
    return last, sha1_hex(last + b"%d" % answer)


def wait_for(poll, done, hashes=0):
    """poll() until done(reply): 2 s plus 20 ms a hash (a watchdog, not a speed test)."""
    deadline = ticks_add(ticks_ms(), 2000 + 20 * hashes)
    while True:
        reply = poll()
        if done(reply):
            return reply
        assert ticks_diff(deadline, ticks_ms()) > 0, reply
        time.sleep(0.002)


def off_bus_ok(poll):
    """poll, answering None while the slave NACKs its address (rebooting,
    re-arming after an over-long write, moving to a new address)."""
    def tolerant():
        try:
            return poll()
        except OSError as e:
            if e.args[0] != ENODEV:
                raise
    return tolerant


class Slave:
    """The slave under test (an address on a bus), and the transcript steps."""

    def __init__(self, i2c, address, yaum):
        self.i2c = i2c
        self.home = self.address = address
        self.yaum = yaum
        self.hashes = 0  # of the last job, for the waits' watchdog
        self.last = None  # the last result read

    def write(self, frame):
        assert self.i2c.writeto(self.address, frame) == len(frame), frame

    def read(self, n):
        return self.i2c.readfrom(self.address, n)

    def ask(self, selector, n):
        self.write(selector)
        return self.read(n)

    def status(self):
        return self.ask(proto.STATUS, proto.STATUS_LEN)

    def not_busy(self):
        """The status once hashing is over (and yaum's loop() has run the
        last command and cleared it: status byte 2 a space)."""
        if self.yaum:
            return wait_for(self.status, lambda st: st[0] != proto.BUSY and st[2] == 32, self.hashes)
        return wait_for(self.status, lambda st: st[0] != proto.BUSY, self.hashes)

    def send_job(self, last, expected, diff):
        self.hashes = 100 * diff + 1
        for frame in (proto.yaum_job_frames if self.yaum else proto.job_frames)(last, expected, diff):
            if self.yaum:
                self.not_busy()
            self.write(frame)

    def result(self):
        """ducorig: (state, nonce, elapsed_us); yaum: (None, nonce, None)."""
        if self.yaum:
            return None, self.number(proto.RESULT), None
        return proto.parse_result(self.ask(proto.RESULT, proto.RESULT_LEN))

    def number(self, selector):
        return proto.yaum_number(self.ask(selector, proto.YAUM_NUMBER_LEN))

    def run_job(self, last, expected, diff):
        self.send_job(last, expected, diff)
        self.not_busy()
        return self.result()

    def run(self, script):
        random.seed(len(script))
        chunks = proto.job_frames(*new_job(300), diff=6)
        for step in script.replace("J*", "J65501/655").split(" "):
            op, arg = step[0], step[1:].replace("_", " ")
            expected = arg.encode()
            if op == ">":
                self.write(expected)
            elif op == "=":
                assert self.status() == expected, step
            elif op == ".":
                assert self.not_busy() == expected, step
            elif op == "?":
                wait_for(off_bus_ok(self.status), lambda st: st == expected)
            elif op == "<":
                wait_for(lambda: self.read(proto.STATUS_LEN), lambda st: st == expected)
            elif op == "J":
                answer, diff = (arg + "/6").split("/")[:2]
                self.send_job(*new_job(int(answer)), diff=int(diff))
            elif op in "LMNO":
                self.write(changed(chunks["LMNO".index(op)], arg))
            elif op == "w":
                assert self.i2c.writeto(self.address, b"L" + b"0" * (int(arg) - 1)) == min(int(arg), 33)
            elif op == "r":
                self.check_result(arg)
            elif op == "h":
                self.check_hashrate(int(arg or 1000))
            elif op == "i":
                n = proto.YAUM_NUMBER_LEN if self.yaum else proto.RESULT_LEN
                first = self.ask(proto.RESULT, n)
                assert self.read(n) == first and self.read(n) == first
                self.status()
                assert self.ask(proto.RESULT, n) == first
            elif op == "e":
                low, high = (arg + "-" + arg).split("-")[:2]
                assert int(low) <= self.number(proto.ELAPSED) <= int(high), step
            elif op == "k":
                name, value = step[1:].split("=")  # names keep their '_'
                self.i2c.sim_control(self.home, name, value)
            elif op == "d":
                self.check_ducoid()
            elif op == "v":
                taken = self.i2c.scan()
                self.move([a for a in range(0x40, 0x78) if a not in taken][0], expected)
                assert self.home not in self.i2c.scan()
                self.move(self.home, expected)
            elif op == "s":
                assert self.address in self.i2c.scan()
            elif op == "p":
                assert self.ask(proto.STATUS, 8) == self.status() + b"\xff" * 5
            elif op == "t":
                reply = self.status()
                self.i2c.writeto(self.address, proto.STATUS, False)
                assert self.read(proto.STATUS_LEN) == reply
            elif op == "z":
                time.sleep(int(arg) / 1000)
            else:
                assert step == "ok", step
                assert self.run_job(*new_job(5), diff=6)[:2] == (proto.FOUND, 5)

    def check_result(self, expected):
        self.last = state, nonce, elapsed_us = self.result()
        if self.yaum:
            assert nonce == int(expected), self.last
        else:
            assert (chr(state), nonce) == (expected[0], int(expected[1:])), self.last
            assert (elapsed_us > 0) == (state in b"CN"), self.last

    def check_hashrate(self, at_most):
        state, nonce, elapsed_us = self.last
        elapsed_ms = self.number(proto.ELAPSED)
        if self.yaum:
            elapsed_us = elapsed_ms * 1000
        assert elapsed_ms == elapsed_us // 1000
        assert 50 < duco.hashrate(nonce, elapsed_us) <= at_most, self.last  # by the slave's clock

    def check_ducoid(self):
        if self.yaum:
            self.write(proto.DUCOID)
            time.sleep(0.01)  # loop() builds the reply; a status poll would replace it
            reply = self.read(24)
            assert len(proto.yaum_ducoid(reply)) == 22 and reply[22:] == b"  "
        else:
            reply = self.ask(proto.DUCOID, proto.DUCOID_LEN)
            assert len(proto.parse_ducoid(reply)) == 22 and self.read(proto.DUCOID_LEN) == reply

    def move(self, address, expected):
        self.write(proto.address_frame(address))
        self.address = address
        wait_for(off_bus_ok(self.status), lambda st: st == expected)


def changed(frame, change):
    """A job chunk, spoilt as a transcript says."""
    if change == "x":
        return frame[:5] + b"x" + frame[6:]
    if change == "c":
        return frame[:-2] + proto.crc_field(int(frame[-2:], 16) ^ 1)
    if change[:1] == ":":
        return frame[:21] + change[1:].encode()
    return frame


def random_jobs(s):
    """At least 50 seeded jobs through the protocol, checked against hashlib:
    per difficulty 11 with a nonce in range and 2 without. yaum's D has two
    digits (no diff 100) and answers 0 when nothing is found. ducorig hashes
    flat out (no rate cap) for them."""
    random.seed(2811)
    if not s.yaum:
        s.write(proto.rate_cap_frame(0))
    for diff in (6, 8, 16, 99 if s.yaum else 100):
        for i in range(13):
            answer = random.getrandbits(16) % (100 * diff + 1) if i < 11 else 100 * diff + i
            last, expected = new_job(answer)
            state, nonce, _ = s.run_job(last, expected, diff)
            found = sha1_hex(last + b"%d" % nonce) == expected
            assert found == (i < 11) and (not found or nonce == answer), (diff, answer, nonce)
            if not s.yaum:
                assert (state, nonce) == ((proto.FOUND, answer) if found else (proto.NOT_FOUND, 100 * diff))
