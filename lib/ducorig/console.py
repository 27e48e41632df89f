# The console's resident part: a postfix one-letter HMI on stdin (the UART and
# WebREPL both arrive there through dupterm), run as one task beside the
# workers. It reads keys without blocking the loop and parses them: digits
# build a number, `n#` selects slave n, Backspace edits, Esc clears (an Esc
# sequence such as an arrow key is discarded up to its final byte), a raw
# line (">") is typed here. A command letter imports ducorig.commands (the
# table, the commands, the help), runs it and drops the module again: a
# headless rig never receives a key, and every function, string and global
# name a module keeps costs heap even when its bytecode runs from ROMFS (this
# file ~1.7 KB on the unix port, ~7.5 KB while it held the commands; numbers
# stay literals for that). Ctrl-C stops the rig from here, without an import,
# so also when the heap is tight. docs/console.md is the user's page.
import asyncio
import sys

import ducorig
from ducorig.ticks import ticks_diff, ticks_ms

MP = sys.implementation.name == "micropython"
LETTERS = "?odspgcXS>bfzvCwRqm"  # the command keys: the letters of ducorig.commands.CMDS


class Console:
    def __init__(self, rig):
        self.rig = rig
        self.out = rig.out
        self.num = None  # the number being typed
        self.sel = None  # the selected slave's index, None: all
        self.esc = 0  # 1: after Esc, 2: inside an Esc [ sequence, 3: after Esc O
        self.line = None  # a raw line's length while one is typed (commands.c_raw), else None
        self.err_t = None
        self.hushed = 0  # errors counted but not printed
        self.interrupted = False

    async def say(self, text):
        """One output line (79 columns at most), then a yield: a worker may run
        between two lines."""
        self.out.write(text[:79] + "\n")
        await asyncio.sleep(0)

    async def error(self, text):
        now = ticks_ms()
        if self.err_t is not None and ticks_diff(now, self.err_t) < 300:
            self.hushed += 1  # errors 300 ms apart or closer: a paste burst, one line, not a flood
            self.err_t = now
            return
        self.err_t = now
        if self.hushed:
            text += " (+%d ignored)" % self.hushed
            self.hushed = 0
        await self.say("? " + text)

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
            if self.esc == 1 and (c == 0x5B or c == 0x4F):  # Esc [ or Esc O
                self.esc = 2 if c == 0x5B else 3
                return True
            if self.esc >= 2:  # parameter bytes until the final byte
                if self.esc == 3 or 0x40 <= c <= 0x7E or c < 0x20 or c > 0x7E:
                    self.esc = 0
                return True
            self.esc = 0  # a lone Esc, then a key of its own
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
        elif c == 4:
            await self.error("Ctrl-D: stop first (q or Ctrl-C); the REPL soft-resets")
        else:
            self.num = None  # the key takes the number as its value, or drops it
            if c == 0x23:  # '#'
                ws = self.rig.workers
                if n is None:
                    self.sel = None
                    await self.say("all slaves")
                elif n >= len(ws):
                    await self.error("no slave %d (0..%d)" % (n, len(ws) - 1))
                else:
                    self.sel = n
                    await self.say("slave %d: %s" % (n, ws[n].stats.name))
            elif 0x20 < c < 0x7F:
                if chr(c) in LETTERS:
                    await self.call("letter", chr(c), n)
                else:
                    await self.error("unknown command %s (? for help)" % chr(c))
            else:
                await self.error("bad key 0x%02x" % c)
        return True

    async def call(self, name, *args):
        """ducorig.commands' name(self, *args). The module is imported for the
        call and dropped again after it (from ROMFS the import is cheap)."""
        from ducorig import commands

        try:
            await getattr(commands, name)(self, *args)
        finally:
            del sys.modules["ducorig.commands"], ducorig.commands

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

    async def run(self):
        """Read stdin until Ctrl-C/q or end of input; at end of input
        (headless, stdin closed) mining goes on without a console."""
        tty = False
        chip = sys.platform == "esp8266"
        if chip:
            import micropython

            micropython.kbd_intr(-1)  # Ctrl-C arrives here as a byte
        elif MP:
            import os

            # The unix port's terminal: one key at a time, Ctrl-C as a byte.
            tty = os.system("test -t 0 && stty -icanon -echo -isig min 1 2>/dev/null") == 0
        src = getattr(sys.stdin, "buffer", sys.stdin)
        read = asyncio.StreamReader(src).read if MP else _fd_reader(src.fileno())
        try:
            await self.say("console: ? for help")
            while self.rig.running:
                b = await read(1)
                if not b:
                    await self.say("console: input closed, mining goes on")
                    return
                try:
                    if not await self.key(b[0] if isinstance(b, bytes) else ord(b)):
                        return
                except Exception as e:  # a console bug (or a full heap) must not end the console
                    self.line = None
                    await self.error("console: %s %s" % (type(e).__name__, e))
        finally:
            if chip:
                micropython.kbd_intr(3)
            if tty:
                os.system("stty icanon echo isig")


if not MP:  # CPython only: no function object on the chip

    def _fd_reader(fd):
        """read(n) on a file descriptor without blocking the loop."""
        import os

        async def read(n):
            loop = asyncio.get_event_loop()
            ready = loop.create_future()
            try:
                loop.add_reader(fd, ready.set_result, None)
            except OSError:  # EPERM: a file or /dev/null, which epoll refuses and which never blocks
                return os.read(fd, n)
            try:
                await ready
            finally:
                loop.remove_reader(fd)
            return os.read(fd, n)

        return read
