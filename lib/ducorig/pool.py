# One Duino-Coin pool connection (shared/protocol.md section 2), for
# MicroPython and CPython asyncio.
#
# The pool does not frame messages: each TCP read is one message. So every
# message goes out in one write, and the next one only after its answer
# (section 2.8). Every read has a timeout; after any error the connection is
# closed, because its state is unknown (a late answer would be taken for the
# answer to the next message).
import asyncio
import random
from binascii import unhexlify

from ducorig.ticks import ticks_diff, ticks_ms

MAX_LINE = 128  # the longest legitimate pool line is a job line (~90 bytes)


class PoolError(Exception):
    pass


class PoolRefused(PoolError):
    """The connection could not be made (refused, unreachable, bad address)."""


class PoolTimeout(PoolError):
    """The pool did not answer in time."""


class PoolClosed(PoolError):
    """The pool closed the connection, or it is not connected."""


class PoolGarbage(PoolError):
    """The pool sent something the protocol does not allow."""


class PoolMessage(PoolError):
    """The pool answered a job request with a message (e.g. BAD,User banned)."""


class Job:
    def __init__(self, last_hash, expected_hash, diff):
        self.last_hash = last_hash
        self.expected_hash = expected_hash
        self.diff = diff


class Result:
    """Feedback for one share: kind is GOOD, BLOCK or BAD; reason for BAD."""

    def __init__(self, kind, reason=None):
        self.kind = kind
        self.reason = reason

    @property
    def accepted(self):
        return self.kind != "BAD"

    def __repr__(self):
        return self.kind if self.reason is None else self.kind + "," + self.reason


def _is_hex40(s):
    # unhexlify checks in C: a loop over the characters costs ~10 us a hash
    # on the unix port, ~6 ms on the ESP8266, on every job.
    if len(s) != 40:
        return False
    try:
        unhexlify(s)
    except ValueError:
        return False
    return True


def parse_job(line):
    """Parse 'last_hash,expected_hash,diff' into a Job."""
    f = line.split(",")
    if len(f) != 3:
        if f[0] in ("BAD", "NO"):
            raise PoolMessage(line)
        raise PoolGarbage("job line has %d fields, not 3: %r" % (len(f), line[:60]))
    if not _is_hex40(f[0]) or not _is_hex40(f[1]):
        raise PoolGarbage("job hashes are not 40 hex digits: %r" % line[:100])
    if not f[2].isdigit() or int(f[2]) < 1:
        raise PoolGarbage("job difficulty is not a positive integer: %r" % f[2][:20])
    return Job(f[0], f[1], int(f[2]))


def parse_result(line):
    """Parse GOOD / BLOCK / BAD[,reason] into a Result."""
    if line == "GOOD" or line == "BLOCK":
        return Result(line)
    if line == "BAD":
        return Result("BAD", "")
    if line.startswith("BAD,"):
        return Result("BAD", line[4:])
    raise PoolGarbage("not a share feedback: %r" % line[:60])


def _check_field(name, value):
    value = str(value)
    if "," in value or "\n" in value:
        raise ValueError("%s must not contain ',' or a newline: %r" % (name, value))
    return value


class ConnectLimiter:
    """At most `limit` connects in any `window_ms`, across all connections that
    share it (the pool bans an IP for more than 50 connects in 30 s, 2.9)."""

    def __init__(self, limit=50, window_ms=30000):
        self.window_ms = window_ms
        self._times = [None] * limit  # ring of the last `limit` connect ticks
        self._next = 0

    async def acquire(self):
        while True:
            oldest = self._times[self._next]
            if oldest is None:
                break
            wait = self.window_ms - ticks_diff(ticks_ms(), oldest)
            if wait <= 0:
                break
            await asyncio.sleep(wait / 1000)
        self._times[self._next] = ticks_ms()
        self._next = (self._next + 1) % len(self._times)


class Backoff:
    """Exponential reconnect delay with jitter, reset by a success."""

    def __init__(self, first_ms=1000, max_ms=60000):
        self.first_ms = first_ms
        self.max_ms = max_ms
        self.delay_ms = 0
        self.failures = 0

    def failed(self):
        self.failures += 1
        self.delay_ms = min(self.max_ms, self.delay_ms * 2 or self.first_ms)

    def succeeded(self):
        self.failures = 0
        self.delay_ms = 0

    async def wait(self):
        if self.delay_ms:
            jitter = random.getrandbits(16) % (self.delay_ms // 4 + 1)
            await asyncio.sleep((self.delay_ms + jitter) / 1000)


_shared_limiter = None


def shared_limiter():
    """The one ConnectLimiter of this rig (process)."""
    global _shared_limiter
    if _shared_limiter is None:
        _shared_limiter = ConnectLimiter()
    return _shared_limiter


class PoolClient:
    """A client for one pool connection: connect, request_job, submit, close."""

    def __init__(self, host, port, user, key=None, tier="AVR",
                 software="ducorig I2C", rig="ducorig", wallet_id=None,
                 timeout_ms=10000, limiter=None):
        self.host = host
        self.port = port
        self.user = _check_field("user", user)
        self.key = _check_field("key", key) if key else "None"
        self.tier = _check_field("tier", tier)
        self.software = _check_field("software", software)
        self.rig = _check_field("rig", rig)
        self.wallet_id = None if wallet_id is None else int(wallet_id)
        self.timeout_ms = timeout_ms
        self.limiter = limiter
        self.version = None
        self._reader = None
        self._writer = None
        self._buf = b""
        self._busy = False

    @property
    def connected(self):
        return self._writer is not None

    async def connect(self):
        """Open the connection and read the version line; returns the version."""
        await self.close()
        await (self.limiter or shared_limiter()).acquire()
        where = "%s:%s" % (self.host, self.port)
        try:
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.timeout_ms / 1000)
        except asyncio.TimeoutError:
            raise PoolTimeout("connect to %s timed out" % where)
        except OSError as e:
            raise PoolRefused("connect to %s failed: %s" % (where, e))
        # MicroPython's open_connection reports a refused connect only on the
        # first read, so the version line is the real handshake.
        try:
            self.version = await self._read_line()
        except PoolClosed as e:
            await self.close()
            raise PoolRefused("%s closed before the version line: %s" % (where, e))
        except OSError as e:
            await self.close()
            raise PoolRefused("connect to %s failed: %s" % (where, e))
        except PoolError:
            await self.close()
            raise
        return self.version

    async def motd(self, wait_ms=500):
        """Ask for the message of the day (before the first job only). It has no
        terminator, so it is whatever arrives within wait_ms."""
        await self._within(self._send("MOTD"))
        try:
            while True:
                try:
                    chunk = await asyncio.wait_for(self._reader.read(64), wait_ms / 1000)
                except asyncio.TimeoutError:
                    break
                if not chunk:
                    raise PoolClosed("pool closed the connection after MOTD")
                self._buf += chunk
                if len(self._buf) > 4 * MAX_LINE:
                    raise PoolGarbage("MOTD longer than %d bytes" % (4 * MAX_LINE))
            text = self._ascii(self._buf)
            self._buf = b""
            return text
        except BaseException:
            await self.close()
            raise

    async def request_job(self):
        """Send JOB,<user>,<tier>,<key> and return the Job."""
        line = await self._exchange("JOB,%s,%s,%s" % (self.user, self.tier, self.key))
        try:
            return parse_job(line)
        except PoolError:
            await self.close()
            raise

    async def submit(self, nonce, hashrate, ducoid):
        """Send the result of the current job and return its Result."""
        msg = "%d,%.2f,%s,%s,%s" % (nonce, hashrate, self.software, self.rig,
                                    _check_field("ducoid", ducoid))
        if self.wallet_id is not None:
            msg += ",%d" % self.wallet_id
        line = await self._exchange(msg)
        try:
            return parse_result(line)
        except PoolError:
            await self.close()
            raise

    async def close(self):
        writer = self._writer
        self._reader = self._writer = None
        self._buf = b""
        self._busy = False
        if writer is not None:
            try:
                writer.close()
                await writer.wait_closed()
            except OSError:
                pass

    async def _exchange(self, msg):
        """One message out, one line back, under one timeout: never a second
        message before the answer to the first."""
        if self._busy:
            raise RuntimeError("pool: a message is already waiting for its answer")
        self._busy = True
        try:
            line = await self._within(self._send_and_read(msg))
        except OSError as e:
            await self.close()
            raise PoolClosed("connection lost: %s" % e)
        except BaseException:
            await self.close()
            raise
        self._busy = False
        return line

    async def _send_and_read(self, msg):
        await self._send(msg)
        return await self._line()

    async def _send(self, msg):
        if self._writer is None:
            raise PoolClosed("not connected")
        self._writer.write(msg.encode())
        await self._writer.drain()

    async def _read_line(self):
        return await self._within(self._line())

    async def _within(self, aw):
        """aw under the pool timeout. One wait_for per exchange, not one per
        send and one per read: each makes two tasks, on every share."""
        try:
            return await asyncio.wait_for(aw, self.timeout_ms / 1000)
        except asyncio.TimeoutError:
            raise PoolTimeout("no answer from the pool in %d ms" % self.timeout_ms)

    async def _line(self):
        while True:
            i = self._buf.find(b"\n")
            if i >= 0:
                line = self._buf[:i]
                self._buf = self._buf[i + 1:]
                return self._ascii(line).strip()
            if len(self._buf) > MAX_LINE:
                raise PoolGarbage("line longer than %d bytes" % MAX_LINE)
            chunk = await self._reader.read(64)
            if not chunk:
                raise PoolClosed("pool closed the connection" + (" mid-line" if self._buf else ""))
            self._buf += chunk

    @staticmethod
    def _ascii(raw):
        if raw and max(raw) > 127:  # max() walks the bytes in C, not bytecode
            raise PoolGarbage("non-ASCII byte 0x%02x from the pool" % max(raw))
        return raw.decode()
