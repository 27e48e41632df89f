# The console's resident part: a postfix one-letter HMI on stdin (the UART and
# WebREPL both arrive there through dupterm), run as one task beside the
# workers. It reads keys without blocking the loop and parses them: digits
# build a number, `n#` selects slave n, Backspace edits, Esc clears (an Esc
# sequence such as an arrow key is discarded up to its final byte), a raw
# line (">") is typed here. More than one key found waiting at once is a
# paste: none of it runs. A command letter imports ducorig.commands (the
# table, the commands, the help), runs it and drops the module again: a
# headless rig never receives a key, and every function, string and global
# name a module keeps costs heap even when its bytecode runs from ROMFS (this
# file ~1.7 KB on the unix port, ~7.5 KB while it held the commands; numbers
# stay literals for that). Ctrl-C stops the rig from here, without an import,
# so also when the heap is tight. docs/console.md is the user's page.
import asyncio
import sys

import ducorig
from ducorig.ticks import sleep_ms

MP = sys.implementation.name == "micropython"


def esc_next(esc, c):
    """The state after byte c inside an Esc sequence (esc: 1 after Esc, 2
    inside Esc [, 3 after Esc O): > 0 it goes on, 0 it ended with c, -1 c is
    a key of its own (the Esc was alone)."""
    if esc == 1:
        return 2 if c == 0x5B else 3 if c == 0x4F else -1
    return 0 if esc == 3 or not 0x20 <= c < 0x40 else esc


def keys_in(data):
    """How many keys in data act: digits, Backspace, Enter and space only
    edit or wait; an Esc sequence (an arrow key) is one key."""
    n = esc = 0
    for c in data:
        if esc:
            e = esc_next(esc, c)
            esc = e if e > 0 else 0
            if e >= 0:
                continue
        if c == 0x1B:
            esc = 1
        if not (0x30 <= c <= 0x39 or c == 8 or c == 10 or c == 13 or c == 32 or c == 0x7F):
            n += 1
    return n


class Console:
    def __init__(self, rig):
        self.rig = rig
        self.out = rig.out
        self.num = None  # the number being typed
        self.sel = None  # the selected slave's index, None: all
        self.esc = 0  # inside an Esc sequence: esc_next's state
        self.line = None  # a raw line's length while one is typed (commands.c_raw), else None
        self.interrupted = False

    async def say(self, text):
        """Output for people: lines of 79 characters at most, so the cursor
        stays on an 80-column line (a longer text wraps at a space, the rest
        indented), each one write and then a yield: the loop never waits
        for more than one line of output (on the chip's UART at 115200 baud
        ~7 ms; the rule is 15 ms, 170 bytes)."""
        while len(text) > 79:
            cut = text.rfind(" ", 20, 80)
            if cut < 0:
                cut = 79
            self.out.write(text[:cut] + "\n")
            await asyncio.sleep(0)
            text = "  " + text[cut:].lstrip()
        self.out.write(text + "\n")
        await asyncio.sleep(0)

    async def error(self, text):
        await self.say("? " + text)

    async def command(self, keys):
        """Scripted control (docs/console.md): keys (str or bytes) as if typed
        one at a time, e.g. "1#5g", so never a paste."""
        for c in keys.encode() if isinstance(keys, str) else keys:
            if not await self.key(c):
                return

    async def key(self, c):
        """One input byte (an int). False when the console must stop reading."""
        if c == 3 or c == 1:  # Ctrl-C (or Ctrl-A: mpremote's raw REPL entry)
            self.interrupted = True
            await self.quit()
            return False
        n = self.line
        if n is not None:  # typing a raw line: Enter sends it, Esc cancels
            if c == 13 or c == 10:
                self.line = None
                self.out.write("\n")
                if n:
                    await self.call("send_raw", bytes(self.buf[:n]))
            elif c == 0x1B:
                self.line = None
                await self.say(" cancelled")
            elif c == 8 or c == 0x7F:
                if n:
                    self.line = n - 1
                    self.out.write("\b \b")
            elif 0x20 <= c < 0x7F and n < len(self.buf):
                self.buf[n] = c
                self.line = n + 1
                self.out.write(chr(c))
            return True
        if self.esc:
            e = esc_next(self.esc, c)
            self.esc = e if e > 0 else 0
            if e >= 0:
                return True
        n = self.num
        if 0x30 <= c <= 0x39:
            n = (n or 0) * 10 + c - 0x30
            self.num = n if n < 10000000 else 10000000  # it stops growing: "too large" for every command
        elif c == 8 or c == 0x7F:
            self.num = None if n is None or n < 10 else n // 10
        elif c == 0x1B:
            self.num = None
            self.esc = 1
        elif c == 10 or c == 13 or c == 32:
            pass  # Enter and space: nothing to do (a number waits for its letter)
        else:  # a command key, or what is wrong with this one (commands.letter)
            self.num = None  # the key takes the number as its value, or drops it
            await self.call("letter", c, n)
        return True

    async def call(self, name, *args):
        """ducorig.commands' name(self, *args). The module is imported for the
        call and dropped again after it (from ROMFS the import is cheap). An
        error, and a heap without the import's largest block (~0.6 KB on the
        chip, its table of constants), costs one line, never the console: a
        heap that mining fragments is whole again for a moment later, so the
        import is tried three times first."""
        for wait in (0, 200, 1000):
            await sleep_ms(wait)
            try:
                from ducorig import commands
            except MemoryError as e:
                sys.modules.pop("ducorig.commands", None)
                failed = e
                continue
            try:
                await getattr(commands, name)(self, *args)
            except Exception as e:
                await self.fault(e)
            finally:
                sys.modules.pop("ducorig.commands", None)
                del ducorig.commands
            return
        await self.fault(failed)

    async def quit(self):
        """Ctrl-C and q: stop mining (the workers close their sockets)."""
        rig = self.rig
        if getattr(rig, "wdt", None) is not None:
            # An armed ESP8266 watchdog cannot be stopped: reboot into the REPL
            # without autostart instead (rig.safe_reboot).
            await self.say("watchdog armed: rebooting into the REPL, no autostart")
            rig.safe_reboot()
            return
        rig.stop()  # before the line: it must happen even when the heap is too tight for one
        await self.say("stopping: closing pool connections")

    async def keys(self, data, drain):
        """The bytes one read found waiting: one key (a number and its
        letter is one), or a paste, more than one. None of a paste runs, nor
        what follows it until the input was quiet for 100 ms, and one line
        says what was ignored; a Ctrl-C or Ctrl-A in it still stops the rig
        (mpremote sends them with other bytes). drain() returns what arrived
        since. False when the console must stop reading."""
        if keys_in(data) > 1:
            seen = bytes(data[:24])
            size = 0
            while data and not (b"\x03" in data or b"\x01" in data):
                size += len(data)
                await sleep_ms(100)
                data = drain()
            if data:
                data = b"\x03"  # the stop in it
            else:
                await self.call("pasted", size, seen)
        for c in data:
            try:
                if not await self.key(c):
                    return False
            except Exception as e:
                await self.fault(e)
        return True

    async def fault(self, e):
        """A console bug (or a full heap) must not end the console: one line,
        or none when even that finds no heap."""
        self.line = None
        try:
            await self.error("console: %s %s" % (type(e).__name__, e))
        except MemoryError:
            pass

    async def run(self):
        """Read stdin until Ctrl-C/q or end of input; at end of input
        (headless, stdin closed) mining goes on without a console."""
        import select

        tty = False
        chip = sys.platform == "esp8266"
        if chip:
            import micropython

            micropython.kbd_intr(-1)  # Ctrl-C arrives here as a byte
        elif MP:
            import os

            # The unix port's terminal: one key at a time, Ctrl-C as a byte,
            # no flow control (Ctrl-S would stop every write, and the rig).
            tty = os.system("test -t 0 && stty -icanon -echo -isig -ixon min 1 2>/dev/null") == 0
        src = getattr(sys.stdin, "buffer", sys.stdin)
        read, get = (asyncio.StreamReader(src).read, src.read) if MP else _fd_reader(src.fileno())
        waiting = select.poll()
        waiting.register(src, select.POLLIN)

        def drain():
            """What is already waiting (64 bytes at most: a bound on the time here)."""
            data = b""
            while len(data) < 64 and waiting.poll(0):
                c = get(1)
                if not c:  # end of input: the next read says so
                    break
                data += c
            return data

        try:
            # The banner comes from the commands: their names are interned
            # now, while the heap is whole. Later imports then need no new
            # qstr pool, a block of several KB that a heap fragmented by
            # mining may lack (at 20 slaves no key got an answer).
            await self.call("hello")
            while self.rig.running:
                data = await read(1)
                if not data:
                    await self.say("console: input closed, mining goes on")
                    return
                # A key arrived: the rest of a paste has 10 ms to follow it
                # (a UART brings ~115 bytes in them at 115200 baud).
                await sleep_ms(10)
                if not await self.keys(data + drain(), drain):
                    return
        finally:
            if chip:
                micropython.kbd_intr(3)
            if tty:
                os.system("stty icanon echo isig ixon")


if not MP:  # CPython only: no function object on the chip

    def _fd_reader(fd):
        """(read, get) on a file descriptor: read(n) waits for input without
        blocking the loop, get(n) reads what is there."""
        import os

        def get(n):
            return os.read(fd, n)

        async def read(n):
            loop = asyncio.get_event_loop()
            ready = loop.create_future()
            try:
                loop.add_reader(fd, ready.set_result, None)
            except OSError:  # EPERM: a file or /dev/null, which epoll refuses and which never blocks
                return get(n)
            try:
                await ready
            finally:
                loop.remove_reader(fd)
            return get(n)

        return read, get
