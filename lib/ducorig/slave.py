# Drivers for one Pro Mini: the ducorig protocol (docs/i2c-protocol.md
# sections 3-5) and an unmodified yaum slave (section 7), told apart by the
# wire version in the status reply.
# A driver owns preallocated reply buffers: a poll allocates nothing.
import asyncio

from ducorig import proto
from ducorig.bus import ShortWrite

TRIES = 3  # resends of a job, re-reads of a garbled reply (protocol section 5)


class SlaveError(Exception):
    pass


class JobRefused(SlaveError):
    """The slave cannot take this job (difficulty out of its range): never resend it."""


class SlaveReset(SlaveError):
    """The slave rebooted (status Z): its job is gone."""


async def identify(bus, addr, protocol="auto"):
    """Clear the slave, read its protocol and DUCOID; the matching driver."""
    status = bytearray(proto.STATUS_LEN)
    await bus.write(addr, proto.CLEAR)
    for _ in range(50):  # a yaum slave is busy until its loop() has taken the A
        await bus.write_read(addr, proto.STATUS, status)
        if status[0] != proto.BUSY:
            break
        await asyncio.sleep(0.002)
    found = proto.protocol_of(status)
    if found is None:
        raise SlaveError("0x%02x: not a DUCO slave (status %r)" % (addr, bytes(status)))
    if protocol != "auto" and protocol != found:
        raise SlaveError("0x%02x: configured protocol %s, slave speaks %s" % (addr, protocol, found))
    driver = (DucorigDriver if found == "ducorig" else YaumDriver)(bus, addr)
    await driver.read_ducoid()
    return driver


class DucorigDriver:
    protocol = "ducorig"
    max_diff = proto.MAX_DIFF

    def __init__(self, bus, addr):
        self.bus = bus
        self.addr = addr
        self.ducoid = None
        self._status = bytearray(proto.STATUS_LEN)
        self._result = bytearray(proto.RESULT_LEN)

    async def read_ducoid(self):
        self.ducoid = await self._reread(proto.DUCOID, bytearray(proto.DUCOID_LEN), proto.parse_ducoid)

    async def start(self, last_hash, expected_hash, diff):
        """Write the job and see the slave take it (resending as section 5 says)."""
        if diff > self.max_diff:
            raise JobRefused("difficulty %d is over the slave's %d" % (diff, self.max_diff))
        frames = proto.job_frames(last_hash, expected_hash, diff)
        state = None
        for _ in range(TRIES):
            try:
                for frame in frames:
                    await self.bus.write(self.addr, frame)
            except ShortWrite:
                continue
            state = await self._read_status(False)  # O leaves the status selected
            if state in (proto.BUSY, proto.FOUND, proto.NOT_FOUND):
                return
            if state == proto.REFUSED and self._status[2] == proto.TOO_HARD:
                raise JobRefused("slave refused difficulty %d" % diff)
        raise SlaveError("job not taken after %d tries (status %r)" % (TRIES, bytes(self._status)))

    async def poll(self):
        """The slave's state: one 3-byte read (the status stays selected)."""
        state = await self._read_status(False)
        if state == proto.BOOTED:
            raise SlaveReset("slave rebooted while hashing")
        return state

    async def result(self):
        """(found, nonce, elapsed_us) of the finished job."""
        state, nonce, elapsed = await self._reread(proto.RESULT, self._result, proto.parse_result)
        if state not in (proto.FOUND, proto.NOT_FOUND):
            raise SlaveError("no result held (state %s)" % chr(state))
        return state == proto.FOUND, nonce, elapsed

    async def clear(self):
        """Drop the result: the slave releases the ready line."""
        await self.bus.write(self.addr, proto.CLEAR)

    async def reset(self):
        await self.bus.write(self.addr, proto.RESET)

    async def _read_status(self, select):
        for _ in range(TRIES):
            if select:
                await self.bus.write_read(self.addr, proto.STATUS, self._status)
            else:
                await self.bus.read_into(self.addr, self._status)
            try:
                return proto.status_state(self._status)
            except proto.ProtoError:
                select = True  # garbled: select again and re-read
        raise SlaveError("garbled status %r" % bytes(self._status))

    async def _reread(self, cmd, buf, parse):
        """Select cmd's reply, read and parse it, re-reading (replies are
        idempotent) while it is garbled."""
        await self.bus.write_read(self.addr, cmd, buf)
        for _ in range(TRIES):
            try:
                return parse(buf)
            except proto.ProtoError:
                await self.bus.read_into(self.addr, buf)
        raise SlaveError("garbled reply to %s: %r" % (cmd.decode(), bytes(buf)))


class YaumDriver:
    """The seed's slave: every command waits for the previous one (status
    not B), no integrity check (the worker verifies each nonce), elapsed in ms."""
    protocol = "yaum"
    max_diff = 99  # D takes two digits

    def __init__(self, bus, addr):
        self.bus = bus
        self.addr = addr
        self.ducoid = None
        self._status = bytearray(proto.STATUS_LEN)
        self._number = bytearray(proto.YAUM_NUMBER_LEN)

    async def read_ducoid(self):
        buf = bytearray(proto.YAUM_DUCOID_LEN)
        await self.bus.write(self.addr, proto.DUCOID)
        await asyncio.sleep(0.01)  # loop() builds the reply
        await self.bus.read_into(self.addr, buf)
        self.ducoid = proto.yaum_ducoid(buf)

    async def start(self, last_hash, expected_hash, diff):
        if diff > self.max_diff:
            raise JobRefused("difficulty %d is over yaum's %d" % (diff, self.max_diff))
        await self.bus.write(self.addr, proto.CLEAR)
        for frame in proto.yaum_job_frames(last_hash, expected_hash, diff):
            await self._until_not_busy()
            await self.bus.write(self.addr, frame)

    async def poll(self):
        await self.bus.write_read(self.addr, proto.STATUS, self._status)
        return self._status[0]

    async def result(self):
        await self.bus.write_read(self.addr, b"R", self._number)
        nonce = proto.yaum_number(self._number)
        await self.bus.write_read(self.addr, b"E", self._number)
        return True, nonce, proto.yaum_number(self._number) * 1000

    async def clear(self):
        await self.bus.write(self.addr, proto.CLEAR)

    reset = clear  # yaum has no reset command

    async def _until_not_busy(self):
        # loop() takes each command within a millisecond or so; allow 100 ms
        # for a slow slave or a busy controller.
        for _ in range(50):
            if await self.poll() != proto.BUSY:
                return
            await asyncio.sleep(0.002)
        raise SlaveError("slave stays busy")
