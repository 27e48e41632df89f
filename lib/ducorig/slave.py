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
        driver.ducoid = proto.yaum_ducoid(buf)
    return driver


class DucorigDriver:
    protocol = "ducorig"
    max_diff = proto.MAX_DIFF
    ready_line = True  # it pulls the shared ready line while it holds a result

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
    """The seed's slave: every command waits for the previous one (status
    not B), no integrity check (the worker verifies each nonce), elapsed in
    ms, no reset command, no ready line."""
    protocol = "yaum"
    max_diff = 99  # D takes two digits
    ready_line = False

    def __init__(self, bus, addr):
        self.bus = bus
        self.addr = addr
        self.ducoid = None
        self._number = bytearray(proto.YAUM_NUMBER_LEN)

    def start(self, last, expected, diff):
        if diff > self.max_diff:
            raise SlaveError(REFUSED, "difficulty %d is over yaum's %d" % (diff, self.max_diff))
        self.bus.transfer(self.addr, proto.CLEAR, None)
        for frame in proto.yaum_job_frames(last, expected, diff):
            self._until_not_busy()
            self.bus.transfer(self.addr, frame, None)

    def poll(self):
        self.bus.transfer(self.addr, proto.STATUS, self.bus.status)
        return self.bus.status[0]

    def result(self):
        transfer = self.bus.transfer
        transfer(self.addr, proto.RESULT, self._number)
        nonce = proto.yaum_number(self._number)
        transfer(self.addr, proto.ELAPSED, self._number)
        return True, nonce, proto.yaum_number(self._number) * 1000

    def clear(self):
        self.bus.transfer(self.addr, proto.CLEAR, None)

    reset = clear  # yaum has no reset command

    def _until_not_busy(self):
        # loop() takes each command within a millisecond or so; a status
        # read takes ~0.7 ms at 100 kHz, so 30 of them wait ~20 ms at most.
        for _ in range(30):
            if self.poll() != proto.BUSY:
                return
        raise SlaveError(FAILED, "slave stays busy")
