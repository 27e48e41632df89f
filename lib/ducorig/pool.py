# One Duino-Coin pool connection (the protocol: README, "The pool emulator"), for MicroPython and
# CPython asyncio.
#
# The pool does not frame messages: each TCP read is one message. So every
# message goes out in one write, and the next one only after its answer.
# Every wait is bounded, by a deadline instead of a wait_for (which costs two
# tasks per call): an exchange sets the connection's deadline, and one sweep
# (sweep(), run by the rig) cancels the waiting task once it has passed; the
# exchange turns that cancel into a timeout. After any error the connection
# is closed, because its state is unknown (a late answer would be taken for
# the answer to the next message).
import asyncio
import random
from binascii import unhexlify

from ducorig.ticks import sleep_ms, ticks_add, ticks_diff, ticks_ms

MAX_LINE = 128  # the longest legitimate pool line is a job line (~90 bytes)
SWEEP_MS = 500  # how often the deadlines are checked: a timeout's resolution

# PoolError.kind: one class with a kind, not a class per kind (on the chip
# every exception class costs ~350 bytes of heap)
REFUSED = "refused"  # the connection could not be made
TIMEOUT = "timeout"  # no answer in time
CLOSED = "closed"  # the pool closed the connection, or it is not connected
GARBAGE = "garbage"  # something the protocol does not allow
MESSAGE = "message"  # a job request answered with a message (BAD,User banned)


class PoolError(Exception):
    def __init__(self, kind, text):
        super().__init__(text)
        self.kind = kind


def parse_job(line):
    """(last_hash, expected_hash, digest, diff) from the job line (bytes):
    the two hashes as 40 hex digits, digest as the expected hash's 20 bytes.
    Checked with C calls (unhexlify, isdigit): bytecode per character costs
    far more, on every share."""
    if len(line) > 82 and line[40] == 44 and line[81] == 44:  # 44 is ','
        last = line[:40]
        expected = line[41:81]
        diff = line[82:]
        try:
            unhexlify(last)
            digest = unhexlify(expected)
        except ValueError:
            raise PoolError(GARBAGE, "job hashes are not 40 hex digits: %r" % line[:100])
        if not diff.isdigit() or int(diff) < 1:
            raise PoolError(GARBAGE, "job difficulty is not a positive integer: %r" % diff[:20])
        return last, expected, digest, int(diff)
    f = line.split(b",")
    if f[0] in (b"BAD", b"NO"):
        raise PoolError(MESSAGE, line.decode())
    if len(f) != 3:
        raise PoolError(GARBAGE, "job line has %d fields, not 3: %r" % (len(f), line[:60]))
    raise PoolError(GARBAGE, "job hashes are not 40 hex digits: %r" % line[:100])


def parse_feedback(line):
    """(kind, reason) of GOOD / BLOCK / BAD[,reason]; reason None unless BAD."""
    if line == b"GOOD":
        return "GOOD", None
    if line == b"BLOCK":
        return "BLOCK", None
    if line == b"BAD":
        return "BAD", ""
    if line[:4] == b"BAD,":
        return "BAD", line[4:].decode()
    raise PoolError(GARBAGE, "not a share feedback: %r" % line[:60])


def _field(name, value):
    value = str(value)
    if "," in value or "\n" in value:
        raise ValueError("%s must not contain ',' or a newline: %r" % (name, value))
    return value


class ConnectLimiter:
    """At most `limit` connects in any `window_ms`, across all connections that
    share it (the pool bans an IP for more than 50 connects in 30 s)."""

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
            await sleep_ms(wait)
        self._times[self._next] = ticks_ms()
        self._next = (self._next + 1) % len(self._times)


def backoff_ms(failures, first_ms=1000, max_ms=60000):
    """The pause after `failures` failures in a row: doubling from first_ms
    up to max_ms, plus up to a quarter of jitter, so that many connections
    do not retry in step. (A function of a count, not an object per slave.)"""
    if failures < 1:
        return 0
    delay = min(max_ms, first_ms << min(failures - 1, 16))
    return delay + random.getrandbits(16) % (delay // 4 + 1)


class PoolClient:
    """One pool connection: connect, request_job, submit, close. Its waits
    are bounded only while sweep() runs over it (the rig runs one)."""

    def __init__(self, host, port, user, key=None, tier="AVR", software="ducorig I2C",
                 rig="ducorig", wallet_id=None, timeout_ms=10000, limiter=None):
        self.host = host
        self.port = port
        self.tier = tier
        # What the messages repeat, as formats: one string each, not an
        # attribute per field (every attribute costs heap, on every slave).
        self._job_format = "JOB,%s,%%s,%s" % (_field("user", user), _field("key", key) if key else "None")
        self._tail_format = ",%s,%s,%%s%s" % (_field("software", software), _field("rig", rig),
                                              "" if wallet_id is None else ",%d" % int(wallet_id))
        self._job_msg = None  # the JOB message as bytes, made at connect (the tier may change)
        self._tail = None  # the submit's tail as bytes, made for its DUCOID
        self._ducoid = None
        self.timeout_ms = timeout_ms
        self.limiter = limiter or ConnectLimiter()
        self.stream = None  # MicroPython: reader and writer are one Stream
        self.writer = None
        # While an exchange waits: the ticks by which it must end. sweep_once
        # clears it when it cancels the waiting task, and so tells its cancel
        # from any other.
        self.deadline = None
        self.task = None  # the task that connected: it alone exchanges

    @property
    def connected(self):
        return self.writer is not None

    async def connect(self):
        """Open the connection and read the version line; returns the version."""
        await self.close()
        await self.limiter.acquire()
        self._job_msg = (self._job_format % self.tier).encode()
        self.task = asyncio.current_task()
        self.deadline = ticks_add(ticks_ms(), self.timeout_ms)
        try:
            self.stream, self.writer = await asyncio.open_connection(self.host, self.port)
        except asyncio.CancelledError:
            await self._expired()
        except OSError as e:
            await self.close()
            raise PoolError(REFUSED, "connect to %s:%s failed: %s" % (self.host, self.port, e))
        self.deadline = None
        try:
            # MicroPython's open_connection reports a refused connect only on
            # the first read, so the version line is the real handshake.
            return await self.exchange(None, bytes.decode)
        except PoolError as e:
            if e.kind != CLOSED:
                raise
            raise PoolError(REFUSED, "connect to %s:%s failed: %s" % (self.host, self.port, e))

    def request_job(self):
        """JOB,<user>,<tier>,<key>: awaitable, the job as parse_job gives it."""
        return self.exchange(self._job_msg, parse_job)

    def submit(self, nonce, hashrate, ducoid):
        """The result of the current job: awaitable, (kind, reason) as
        parse_feedback gives it."""
        if ducoid != self._ducoid:  # the part after the numbers is the same on every share
            self._tail = (self._tail_format % _field("ducoid", ducoid)).encode()
            self._ducoid = ducoid
        return self.exchange(b"%d,%.2f" % (nonce, hashrate) + self._tail, parse_feedback)

    async def motd(self, wait_ms=500):
        """The message of the day (before the first job only). It has no
        terminator, so it is whatever arrives within wait_ms."""
        self.writer.write(b"MOTD")
        text = b""
        try:
            while True:
                try:
                    chunk = await asyncio.wait_for(self.stream.read(64), wait_ms / 1000)
                except asyncio.TimeoutError:
                    break
                if not chunk:
                    raise PoolError(CLOSED, "pool closed the connection after MOTD")
                text += chunk
                if len(text) > 4 * MAX_LINE:
                    raise PoolError(GARBAGE, "MOTD longer than %d bytes" % (4 * MAX_LINE))
            if text and max(text) > 127:
                raise PoolError(GARBAGE, "non-ASCII MOTD")
            return text.decode()
        except BaseException:
            await self.close()
            raise

    async def exchange(self, msg, parse):
        """Send msg (bytes; None: nothing), read one line within the timeout
        and return parse(line). The line is one TCP read or several, ended by
        "\n" (a "\r" before it is dropped). Never a second message before
        the answer to the first; any error closes the connection."""
        if self.deadline is not None:  # armed: an exchange is in flight
            raise RuntimeError("pool: a message is already waiting for its answer")
        self.deadline = ticks_add(ticks_ms(), self.timeout_ms)
        try:
            if msg is not None:
                if self.writer is None:
                    raise PoolError(CLOSED, "not connected")
                # Both runtimes' write() sends at once when the socket takes
                # it (a pool message always fits); only what stayed buffered
                # needs drain(), a pass through the scheduler per message.
                self.writer.write(msg)
            line = b""
            while True:
                chunk = await self.stream.read(64)
                if not chunk:
                    raise PoolError(CLOSED, "pool closed the connection" + (" mid-line" if line else ""))
                line += chunk
                if line[-1] == 10:
                    break
                if len(line) > MAX_LINE:
                    raise PoolError(GARBAGE, "line longer than %d bytes" % MAX_LINE)
            self.deadline = None
            if line.find(b"\n") != len(line) - 1:
                raise PoolError(GARBAGE, "more than one line in one answer: %r" % line[:60])
            if max(line) > 127:  # max() walks the bytes in C, not bytecode
                raise PoolError(GARBAGE, "non-ASCII byte 0x%02x from the pool" % max(line))
            return parse(line[:-2] if line[-2:] == b"\r\n" else line[:-1])
        except asyncio.CancelledError:
            await self._expired()
        except OSError as e:
            await self.close()
            raise PoolError(CLOSED, "connection lost: %s" % e)
        except BaseException:
            await self.close()
            raise

    async def _expired(self):
        """A cancel came: the sweep's (TIMEOUT), or the task's own (re-raised)."""
        swept = self.deadline is None
        await self.close()
        if not swept:
            raise asyncio.CancelledError
        raise PoolError(TIMEOUT, "no answer from %s:%s in %d ms" % (self.host, self.port, self.timeout_ms))

    async def close(self):
        writer = self.writer
        self.stream = self.writer = self.deadline = None
        if writer is not None:
            try:
                writer.close()
                await writer.wait_closed()
            except OSError:
                pass


def sweep_once(clients):
    """Cancel every exchange past its deadline (the exchange raises TIMEOUT)."""
    now = ticks_ms()
    for c in clients:
        d = c.deadline
        if d is not None and ticks_diff(now, d) >= 0:
            c.deadline = None
            c.task.cancel()


async def sweep(clients):
    """Bound every wait of these clients: the task that tests or a lone
    client run; the rig sweeps from its housekeeping loop instead."""
    while True:
        await sleep_ms(SWEEP_MS)
        sweep_once(clients)
