# Drivers for one Pro Mini: the ducorig protocol (docs/i2c-protocol.md
# sections 3-5) and an unmodified yaum slave (section 7), told apart by the
# wire version in the status reply.
#
# Every method but identify() is synchronous: a transfer is one blocking call
# (bus.py), so a status poll is one plain call with no coroutine behind it.
# Failures raise BusError (the bus) or SlaveError (the slave's answers); the
# worker retries a BusError through bus.again(). The drivers read into the
# bus's preallocated reply buffers: a poll allocates nothing.
from ducorig import proto
from ducorig.ticks import sleep_ms

TRIES = 3  # resends of a job, re-reads of a garbled reply (protocol section 5)

# SlaveError.kind
REFUSED = "refused"  # the slave cannot take this job's difficulty: never resend it
REBOOTED = "rebooted"  # status Z while hashing: its job is gone
FAILED = "failed"  # anything else: the worker re-identifies the slave
LOCKED = "locked"  # a yaum slave's Wire ignores every write: only a power cycle helps


class SlaveError(Exception):
    def __init__(self, kind, text):
        super().__init__(text)
        self.kind = kind


async def identify(bus, addr, protocol="auto"):
    """Clear the slave, read its protocol and DUCOID: the matching driver."""
    status = bus.status
    bus.transfer(addr, proto.CLEAR, None)
    for _ in range(50):  # a yaum slave is busy until its loop() has taken the A
        bus.transfer(addr, proto.STATUS, status)
        if status[0] != proto.BUSY:
            break
        await sleep_ms(2)
    found = proto.protocol_of(status)
    if found is None:
        if wire_locked(bus, addr):
            raise SlaveError(LOCKED, "yaum slave locked: power-cycle it")
        raise SlaveError(FAILED, "0x%02x: not a DUCO slave (status %r)" % (addr, bytes(status)))
    if protocol != "auto" and protocol != found:
        raise SlaveError(FAILED, "0x%02x: configured protocol %s, slave speaks %s" % (addr, protocol, found))
    if found == "ducorig":
        driver = DucorigDriver(bus, addr)
        buf = bytearray(proto.DUCOID_LEN)
        driver.ducoid = driver._reread(proto.DUCOID, buf, proto.parse_ducoid)
    else:
        driver = YaumDriver(bus, addr)
        buf = bytearray(proto.YAUM_DUCOID_LEN)
        bus.transfer(addr, proto.DUCOID, None)
        await sleep_ms(10)  # loop() builds the reply
        bus.transfer(addr, None, buf)
        try:
            driver.ducoid = proto.yaum_ducoid(buf)
        except proto.ProtoError as e:
            raise SlaveError(LOCKED if wire_locked(bus, addr) else FAILED, str(e))
    return driver


def wire_locked(bus, addr):
    """Does the slave ignore every write? A yaum slave's stock Wire does once
    a write's bytes after the first stay unread (a data command sent while it
    hashed): each read then returns one old reply, whatever was selected. A
    working slave answers S with its 3-byte status and E with 5 digits. The
    stuck reply is one of yaum's: a status (then 0xFF) or a number (R, E):
    not a device that answers anything with the same bytes."""
    after_s = bytearray(5)
    after_e = bytearray(5)
    bus.transfer(addr, proto.STATUS, after_s)
    bus.transfer(addr, proto.ELAPSED, after_e)
    if after_s != after_e:
        return False
    if after_s[3] == 0xFF and after_s[4] == 0xFF:
        return after_s[0] in b"IBC" and after_s[1] in b"c?"
    try:
        proto.yaum_number(after_s)
        return True
    except proto.ProtoError:
        return False


class DucorigDriver:
    protocol = "ducorig"
    max_diff = proto.MAX_DIFF
    ready_line = True  # it pulls the shared ready line while it holds a result
    has_rate_cap = True

    def __init__(self, bus, addr):
        self.bus = bus
        self.addr = addr
        self.ducoid = None

    def start(self, last, expected, diff):
        """Write the job and see the slave take it (resending as section 5 says)."""
        if diff > self.max_diff:
            raise SlaveError(REFUSED, "difficulty %d is over the slave's %d" % (diff, self.max_diff))
        frames = proto.job_frames(last, expected, diff)
        addr = self.addr
        bus = self.bus
        i2c = bus.i2c  # the current one: a recovery or a clock change replaces it
        for _ in range(TRIES):
            try:
                for frame in frames:
                    if i2c.writeto(addr, frame) != len(frame):
                        bus.failures += 1
                        break  # the slave dropped a chunk: the whole job again
                else:
                    state = self._status(False)  # O leaves the status selected
                    if state == proto.BUSY or state == proto.FOUND or state == proto.NOT_FOUND:
                        return
                    if state == proto.REFUSED and bus.status[2] == proto.TOO_HARD:
                        raise SlaveError(REFUSED, "slave refused difficulty %d" % diff)
            except OSError as e:
                raise bus.failed(addr, e)
        raise SlaveError(FAILED, "job not taken after %d tries (status %r)" % (TRIES, bytes(bus.status)))

    def poll(self):
        """The slave's state: one 3-byte read (the status stays selected).
        The commonest call of the rig: the I2C call and proto.status_state's
        check inline, on literals (0x65 is the wire version 'e')."""
        buf = self.bus.status
        try:
            self.bus.i2c.readfrom_into(self.addr, buf)
        except OSError as e:
            raise self.bus.failed(self.addr, e)
        state = buf[0]
        if buf[1] != 0x65 or state not in b"ZILBCNRE" or buf[2] not in b" ?!#>^+":
            state = self._status(True)  # garbled: select again and re-read
        if state == 0x5A:  # Z: proto.BOOTED
            raise SlaveError(REBOOTED, "slave rebooted while hashing")
        return state

    def result(self):
        """(found, nonce, elapsed_us) of the finished job."""
        state, nonce, elapsed = self._reread(proto.RESULT, self.bus.result, proto.parse_result)
        if state != proto.FOUND and state != proto.NOT_FOUND:
            raise SlaveError(FAILED, "no result held (state %s)" % chr(state))
        return state == proto.FOUND, nonce, elapsed

    def clear(self):
        """Drop the result: the slave releases the ready line."""
        self.bus.transfer(self.addr, proto.CLEAR, None)

    def reset(self):
        self.bus.transfer(self.addr, proto.RESET, None)

    def set_rate_cap(self, hs):
        """W: at most hs H/s from the next job on (a reset restores the default)."""
        self.bus.transfer(self.addr, proto.rate_cap_frame(hs), None)

    def _status(self, select):
        buf = self.bus.status
        for _ in range(TRIES):
            self.bus.transfer(self.addr, proto.STATUS if select else None, buf)
            try:
                return proto.status_state(buf)
            except proto.ProtoError:
                select = True  # garbled: select again and re-read
        raise SlaveError(FAILED, "garbled status %r" % bytes(buf))

    def _reread(self, cmd, buf, parse):
        """Select cmd's reply, read and parse it, re-reading (replies are
        idempotent) while it is garbled."""
        transfer = self.bus.transfer
        transfer(self.addr, cmd, buf)
        for _ in range(TRIES):
            try:
                return parse(buf)
            except proto.ProtoError:
                transfer(self.addr, None, buf)
        raise SlaveError(FAILED, "garbled reply to %s: %r" % (cmd.decode(), bytes(buf)))


class YaumDriver:
    """The seed's slave (section 7): no integrity check (the worker verifies
    each nonce), elapsed in ms, no reset command, no ready line.

    Its stock Wire drops every write whole while bytes of an earlier one wait
    unread, and the sketch reads a command's data only when loop() takes the
    command, which it does not while it hashes or runs the previous command.
    A data-carrying command (D L M N O V) sent then is never read, and the
    slave ignores every write until a power cycle. So each command goes only
    when a fresh status proves the previous one done, and a job only to a
    slave that just proved it is idle (A answered by exactly "Ic ")."""
    protocol = "yaum"
    max_diff = 99  # D takes two digits
    ready_line = False
    has_rate_cap = False

    def __init__(self, bus, addr):
        self.bus = bus
        self.addr = addr
        self.ducoid = None
        self._number = bytearray(proto.YAUM_NUMBER_LEN)

    def start(self, last, expected, diff):
        if diff > self.max_diff:
            raise SlaveError(REFUSED, "difficulty %d is over yaum's %d" % (diff, self.max_diff))
        frames = proto.yaum_job_frames(last, expected, diff)
        for _ in range(TRIES):
            # A dropped A (it came while a hash or a command ended) leaves
            # "C? " or "I? ": send it again.
            if self._command(proto.CLEAR, b"Ic "):
                break
        else:
            raise self._failure("A not taken after %d tries" % TRIES)
        for frame in frames[:-1]:
            if not self._command(frame, b"I? "):
                raise self._failure(frame[:1].decode() + " not taken")
        self.bus.transfer(self.addr, frames[-1], None)  # O: the slave hashes

    def poll(self):
        """BUSY, or FOUND once the status is exactly "C? " (a result, found
        or not). "C?O" is the moment before loop() clears the command after
        a hash, and also what a flipped bit makes of "B?O": poll again.
        "Ic " while hashing is a slave that restarted: its job is gone."""
        buf = self.bus.status
        self.bus.transfer(self.addr, proto.STATUS, buf)
        if buf == b"C? ":
            return proto.FOUND
        if buf == b"Ic ":
            raise SlaveError(REBOOTED, "slave restarted while hashing")
        return proto.BUSY

    def result(self):
        """(found, nonce, elapsed_us): R = 0 is "nothing found" (or nonce 0,
        which the worker's SHA-1 check tells apart)."""
        nonce = self._read_number(proto.RESULT)
        return nonce != 0, nonce, self._read_number(proto.ELAPSED) * 1000

    def clear(self):
        self.bus.transfer(self.addr, proto.CLEAR, None)

    reset = clear  # yaum has no reset command

    def _command(self, frame, settled):
        """Write frame, then poll until the status is `settled` (True), or
        another settled one (False: the command was dropped). First an E:
        its reply (digits) replaces the last status, so that a poll whose S
        the slave missed reads as digits, never as a stale "I? "."""
        transfer = self.bus.transfer
        addr = self.addr
        buf = self.bus.status
        transfer(addr, proto.ELAPSED, None)
        transfer(addr, frame, None)
        # loop() takes up to ~0.75 ms a command (L); a poll takes ~0.7 ms at
        # 100 kHz and ~0.2 ms at 400 kHz.
        for _ in range(30):
            transfer(addr, proto.STATUS, buf)
            if buf == settled:
                return True
            if buf[2] == 0x20 and buf[0] != proto.BUSY and buf[1] in b"c?":
                return False
        raise self._failure("slave stays busy")

    def _failure(self, text):
        """The error for a command the slave did not run: LOCKED if it ignores every write."""
        if wire_locked(self.bus, self.addr):
            return SlaveError(LOCKED, "yaum slave locked: power-cycle it")
        return SlaveError(FAILED, "%s (status %r)" % (text, bytes(self.bus.status)))

    def _read_number(self, selector):
        """R or E: select, read, and re-read (the reply stays) while garbled."""
        transfer = self.bus.transfer
        buf = self._number
        transfer(self.addr, selector, buf)
        for _ in range(TRIES):
            try:
                return proto.yaum_number(buf)
            except proto.ProtoError:
                transfer(self.addr, None, buf)
        raise SlaveError(FAILED, "garbled reply to %s: %r" % (selector.decode(), bytes(buf)))
