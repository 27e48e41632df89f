# The console's parser (ducorig.console) and its commands (ducorig.commands,
# imported per command and dropped again) on both runtimes: bytes in, lines
# out, against a stand-in rig (no bus, no pool). Here each command compiles
# commands.py from source again (the chip imports its .mpy from ROMFS), whose
# parse peak in a heap fragmented by the earlier tests needs more than 128k:
# mpunit: heapsize=256k
import asyncio
import sys

import ducorig
from ducorig import commands, console
from ducorig.rig import Rig as RealRig


class Out:
    def __init__(self):
        self.lines = []
        self.part = ""

    def write(self, text):
        self.part += text
        while "\n" in self.part:
            i = self.part.find("\n")
            self.lines.append(self.part[:i])
            self.part = self.part[i + 1:]


class Stats:
    def __init__(self, name):
        self.name = name
        self.state = "hash"
        self.accepted = 2
        self.rejected = {}
        self.last_bad = None

    def hashrate(self):
        return 340.0

    def busy_fraction(self):
        return 0.5


class W:
    def __init__(self, name):
        self.stats = Stats(name)
        self.redial = False
        self.quota = None
        self.wake = asyncio.Event()


class Rig:
    pause = RealRig.pause  # the real per-worker pause and resume
    resume = RealRig.resume

    def __init__(self):
        self.running = True
        self.held = 0
        self.verbose = False
        self.workers = [W("a"), W("b"), W("c")]
        self.out = Out()

    def stop(self):
        self.running = False


def quotas(rig):
    return [w.quota for w in rig.workers]


def feed(data, rig=None):
    rig = rig or Rig()
    con = console.Console(rig)
    con.err_t = None

    async def go():
        for c in data:
            con.err_t = None  # every error printed (no burst hushing here)
            if not await con.key(c):
                break

    asyncio.run(go())
    return rig, con, rig.out.lines


def test_digits_select_and_value():
    rig, con, lines = feed(b"1#2g")
    assert con.sel == 1 and lines[0] == "slave 1: b"
    assert quotas(rig) == [None, 2, None] and lines[-1] == "mining slave 1, 2 more shares each"


def test_hash_alone_selects_all_and_bad_index_is_refused():
    rig, con, lines = feed(b"1##7#")
    assert con.sel is None and "all slaves" in lines and lines[-1] == "? no slave 7 (0..2)"


def test_backspace_edits_the_number():
    rig, con, lines = feed(b"12\x08\x7f5#")
    assert lines[-1] == "? no slave 5 (0..2)"
    rig, con, lines = feed(b"13\x08#")
    assert con.sel == 1


def test_esc_clears_and_arrow_sequences_are_discarded():
    rig, con, lines = feed(b"2\x1b#")
    assert con.sel is None and lines == ["all slaves"]
    rig, con, lines = feed(b"\x1b[A\x1b[1;5C\x1bOP\x1b[15~1#")
    assert lines == ["slave 1: b"] and con.num is None


def test_unknown_letter_and_non_ascii_get_one_line_each():
    rig, con, lines = feed(b"j\xff")
    assert lines == ["? unknown command j (? for help)", "? bad key 0xff"]
    assert rig.running


def test_numbers_too_large():
    rig, con, lines = feed(b"123456g99999999999g5p")
    assert lines == ["? g: 123456 is too large (max 99999)", "? g: 10000000 is too large (max 99999)",
                     "? p takes no number"]
    assert quotas(rig) == [None, None, None]


def test_a_burst_of_garbage_is_one_line_not_a_flood():
    rig = Rig()
    con = console.Console(rig)

    async def go():
        for c in b"\xfe\xfdjkl\xff\x80\x81" * 8:
            await con.key(c)
        await asyncio.sleep(0.4)
        await con.key(ord("j"))

    asyncio.run(go())
    assert len(rig.out.lines) == 2 and "ignored" in rig.out.lines[1] and rig.running


def test_pause_go_verbose_quit():
    rig, con, lines = feed(b"p")
    assert quotas(rig) == [0, 0, 0] and lines == ["pausing all slaves after the current share"]
    rig, con, lines = feed(b"1#p")
    assert quotas(rig) == [None, 0, None] and not rig.workers[1].wake.is_set()
    rig, con, lines = feed(b"p1#g")
    assert quotas(rig) == [0, None, 0] and rig.workers[1].wake.is_set() and lines[-1] == "mining slave 1"
    rig, con, lines = feed(b"pgv0v1v")
    assert quotas(rig) == [None, None, None] and rig.verbose
    assert lines[-3:] == ["verbose on", "verbose off", "verbose on"]
    rig, con, lines = feed(b"qo")
    assert not rig.running and lines[0].startswith("stopping") and lines[-1] == "stopped, 0 held"


def test_ctrl_c_stops_and_stops_reading():
    rig, con, lines = feed(b"\x03\x01o")
    assert not rig.running and con.interrupted and len(lines) == 1


def test_overview_shows_paused_pausing_and_quota():
    rig = Rig()
    rig.workers[2].stats.state = "paused"  # held at the gate
    rig, con, lines = feed(b"0#p1#3g2#p#o", rig)
    assert [line.split()[2] for line in lines[-4:-1]] == ["pausing", "+3", "paused"]


def test_overview_and_help_fit_80_columns():
    rig, con, lines = feed(b"o?")
    assert lines[0].startswith("0 a") and "eff100%" in lines[0] and "eff 96%" in lines[1]
    assert len(lines) == 4 + len(commands.CMDS) + 2
    assert all(len(line) < 80 for line in lines)


def test_the_command_table_is_data():
    letters = [c[0] for c in commands.CMDS]
    assert len(letters) == len(set(letters))
    assert "".join(letters) == console.LETTERS  # the console's filter knows every command, in help order
    for letter, fn, top, text in commands.CMDS:
        assert callable(fn) and len(text) < 74


def test_the_commands_module_is_dropped_after_each_command():
    # Its RAM goes back to the heap: neither sys.modules nor the package keeps it.
    sys.modules.pop("ducorig.commands", None)  # this file's own import of it
    if hasattr(ducorig, "commands"):
        del ducorig.commands
    rig = Rig()
    con = console.Console(rig)

    async def go():
        seen = []
        for c in b"1#p?o":
            await con.key(c)
            seen.append("ducorig.commands" in sys.modules or hasattr(ducorig, "commands"))
        return seen

    assert asyncio.run(go()) == [False] * 5
    lines = rig.out.lines
    assert lines[:2] == ["slave 1: b", "pausing slave 1 after the current share"]
    assert "Ctrl-C" in lines[-3] and lines[-1] == "mining, 0 held, sel 1"  # each command answered


def test_a_failed_command_drops_the_module_too():
    rig = Rig()
    rig.held = None  # the overview's "%d held" fails on it
    rig, con, lines = feed(b"o0#", rig)
    assert lines[-2].startswith("? o: TypeError") and lines[-1] == "slave 0: a"
    assert "ducorig.commands" not in sys.modules and not hasattr(ducorig, "commands")


def test_raw_line_needs_a_selection_and_a_pause():
    rig, con, lines = feed(b">")
    assert lines == ["? select a slave first: n#"]
    rig, con, lines = feed(b"1#>")
    assert lines[-1] == "? pause first (p): the worker owns the slave"
    rig, con, lines = feed(b"1#p>")  # paused, but not yet held: its share is in flight
    assert lines[-1] == "? pause first (p): the worker owns the slave"
    rig = Rig()
    rig.workers[1].stats.state = "paused"  # held at the gate
    rig, con, lines = feed(b"1#p>V12\x1b", rig)
    assert con.line is None and lines[-1].endswith("cancelled")
