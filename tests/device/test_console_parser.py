# The console's parser (ducorig.console) and its commands (ducorig.commands,
# imported per command and dropped again) on both runtimes: bytes in, lines
# out, against a stand-in rig (no bus, no pool). Keys are fed one read at a
# time, as typed; a read that finds several keys is a paste
# (test_console_paste.py). Here each command compiles commands.py from
# source again (the chip imports its .mpy from ROMFS), whose parse peak in a
# heap fragmented by the earlier tests needs more than 128k:
# mpunit: heapsize=256k
import asyncio
import sys

import ducorig
from ducorig import commands, console
from ducorig.rig import Rig as RealRig

WIDTH = 79  # characters a line: the cursor stays on an 80-column line


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
        self.protocol = "ducorig"

    def hashrate(self):
        return 340.0

    def busy_fraction(self):
        return 0.5


class Cfg:
    def __init__(self, address):
        self.address = address
        self.protocol = "auto"


class W:
    def __init__(self, name, address):
        self.stats = Stats(name)
        self.cfg = Cfg(address)
        self.redial = False
        self.quota = None
        self.wake = asyncio.Event()


class Bus:
    """Records each transfer; reads get `reply`."""

    def __init__(self):
        self.sent = []
        self.reply = b"Be "
        self.failures = 3
        self.lock = asyncio.Lock()

    def transfer(self, addr, out, into):
        self.sent.append((addr, out))
        if into is not None:
            into[:] = self.reply


class RigStats:
    def __init__(self):
        self.zeroed = 0

    def reset(self):
        self.zeroed += 1


class Rig:
    pause = RealRig.pause  # the real per-worker pause and resume
    resume = RealRig.resume

    def __init__(self):
        self.running = True
        self.held = 0
        self.verbose = False
        self.workers = [W("a", 8), W("b", 9), W("c", 10)]
        self.out = Out()
        self.bus = Bus()
        self.stats = RigStats()

    def stop(self):
        self.running = False


def quotas(rig):
    return [w.quota for w in rig.workers]


def nothing():
    return b""


def feed(data, rig=None):
    """Type data: one read per key."""
    rig = rig or Rig()
    con = console.Console(rig)

    async def go():
        for c in data:
            if not await con.keys(bytes((c,)), nothing):
                break

    asyncio.run(go())
    return rig, con, rig.out.lines


def test_digits_select_and_value_and_each_command_is_echoed():
    rig, con, lines = feed(b"1#2g")
    assert con.sel == 1 and lines[:2] == ["> 1#", "slave 1: b"]
    assert lines[2:] == ["> 2g", "mining slave 1, 2 more shares, then paused"]
    assert quotas(rig)[0] is None and quotas(rig)[2] is None


def test_ng_counts_the_share_in_flight_as_the_first():
    # Slave 1 mines (a share in flight), slave 2 is held at its gate: both
    # get 5 shares in all, the gate lets 4 and 5 through after it.
    rig = Rig()
    rig.workers[2].stats.state = "paused"
    rig, con, lines = feed(b"5g", rig)
    assert quotas(rig) == [4, 4, 5] and all(w.wake.is_set() for w in rig.workers)
    assert lines[-1] == "mining all slaves, 5 more shares each, then paused"
    rig, con, lines = feed(b"1g")
    assert quotas(rig) == [0, 0, 0]  # the share in flight is the one: then paused
    rig, con, lines = feed(b"0g")
    assert quotas(rig) == [0, 0, 0]


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
    assert con.sel is None and lines == ["> #", "all slaves"]
    rig, con, lines = feed(b"\x1b[A\x1b[1;5C\x1bOP\x1b[15~1#")
    assert lines == ["> 1#", "slave 1: b"] and con.num is None


def test_unknown_letter_non_ascii_and_flow_control_get_one_line_each():
    rig, con, lines = feed(b"j\xff\x13")
    assert lines == ["? unknown command j (? for help)", "? bad key 0xff",
                     "? Ctrl-S/Ctrl-Q: no flow control here, output never stops the rig"]
    assert rig.running


def test_numbers_too_large():
    rig, con, lines = feed(b"123456g99999999999g5p")
    assert lines == ["? g: 123456 is too large (max 99999)", "? g: 10000000 is too large (max 99999)",
                     "? p takes no number"]
    assert quotas(rig) == [None, None, None]


def test_pause_go_verbose_quit():
    rig, con, lines = feed(b"p")
    assert quotas(rig) == [0, 0, 0] and lines == ["> p", "pausing all slaves after the current share"]
    rig, con, lines = feed(b"1#p")
    assert quotas(rig) == [None, 0, None] and not rig.workers[1].wake.is_set()
    rig, con, lines = feed(b"p1#g")
    assert quotas(rig) == [0, None, 0] and rig.workers[1].wake.is_set() and lines[-1] == "mining slave 1"
    rig, con, lines = feed(b"pgv0v1v")
    assert quotas(rig) == [None, None, None] and rig.verbose
    assert lines[-6:] == ["> v", "verbose on", "> 0v", "verbose off", "> 1v", "verbose on"]
    rig, con, lines = feed(b"qo")
    assert not rig.running and lines[1].startswith("stopping") and lines[-1] == "stopped, 0 held"


def test_ctrl_c_stops_and_stops_reading():
    rig, con, lines = feed(b"\x03\x01o")
    assert not rig.running and con.interrupted and len(lines) == 1


def test_scripted_control_runs_keys_one_at_a_time():
    rig = Rig()
    con = console.Console(rig)
    asyncio.run(con.command("1#2g"))
    assert con.sel == 1 and quotas(rig) == [None, 1, None]
    asyncio.run(con.command(b"#p"))
    assert quotas(rig) == [0, 0, 0] and rig.out.lines[-1] == "pausing all slaves after the current share"


def rows(lines):
    """The overview's slave rows: (index, state, H/s, accepted)."""
    return [(int(l.split()[0]), l.split()[2], l.split()[3], int(l.split()[4]))
            for l in lines if l[:2].strip() and l[:2].strip().isdigit()]


def test_overview_shows_paused_pausing_and_quota_and_no_rate_unless_hashing():
    rig = Rig()
    rig.workers[2].stats.state = "paused"  # held at the gate
    rig, con, lines = feed(b"0#p1#3g2#p#o", rig)
    assert [r[1] for r in rows(lines)] == ["pausing", "+2", "paused"]
    assert [r[2] for r in rows(lines)] == ["340", "340", "-"]
    rig = Rig()
    rig.workers[0].stats.state = "bus error"
    rig, con, lines = feed(b"o", rig)
    assert lines[2].split()[:5] == ["0", "a", "bus", "error", "-"]


def test_overview_and_help_fit_80_columns():
    rig, con, lines = feed(b"o?")
    assert lines[0] == "> o" and lines[1].split()[:4] == ["#", "name", "state", "H/s"]
    assert lines[2].split()[-2:] == ["50%", "100%"] and lines[3].split()[-2:] == ["50%", "96%"]
    assert len(lines) == 1 + 1 + 3 + 1 + 1 + 1 + len(commands.CMDS) + 1
    assert all(len(line) <= WIDTH for line in lines)


def test_long_lines_wrap_at_a_space_and_nothing_is_lost():
    rig = Rig()
    rig.workers[0].stats.name = "a-rather-long-slave-name"
    rig.workers[0].stats.last_bad = "Too low starting difficulty for this share, says the pool"
    rig, con, lines = feed(b"o", rig)
    assert all(len(line) <= WIDTH for line in lines)
    row = lines[2] + lines[3]
    assert lines[3].startswith("  ") and "a-rather-long-slave-name" in row
    assert " ".join(row.split()).endswith("Too low starting difficulty for this share, says the pool")
    text = "x" * 200  # no space to break at: cut at the width
    asyncio.run(console.Console(rig).say(text))
    assert "".join(line.strip() for line in rig.out.lines[-3:]) == text


def test_status_bytes_are_words():
    words = commands.status_words
    assert words(b"Be ", "ducorig") == "busy hashing; last command carried out"
    assert words(b"Ie?", None) == "idle; last command unknown"
    assert words(b"B?O", "yaum") == "yaum, busy, command O not run yet"
    assert words(b"Ic ", None) == "yaum, idle, cleared"
    assert words(b"\xff\xff\xff", None) == 'not a status reply: ff ff ff ("...")'
    rig = Rig()
    rig, con, lines = feed(b"1#S", rig)
    assert lines[-1] == "1 b: busy hashing; last command carried out" and rig.bus.sent == [(9, b"S")]


def test_x_resets_a_ducorig_slave_and_says_yaum_has_none():
    rig = Rig()
    rig.workers[1].stats.protocol = "yaum"
    rig.workers[2].stats.protocol = None  # not identified yet, configured auto
    rig, con, lines = feed(b"X", rig)
    assert lines[1:] == ["0 a: reset sent", "1 b: yaum has no reset command (power-cycle it); nothing sent",
                         "2 c: reset sent (protocol not known yet: a yaum slave ignores it)"]
    assert rig.bus.sent == [(8, b"X"), (10, b"X")]


def test_z_zeroes_the_statistics_and_the_bus_counters():
    rig, con, lines = feed(b"z")
    assert rig.stats.zeroed == 1 and rig.bus.failures == 0 and lines[-1] == "statistics and bus counters zeroed"


def test_the_command_table_is_data():
    letters = [c[0] for c in commands.CMDS]
    assert len(letters) == len(set(letters)) and "#" not in letters
    for letter, fn, top, text in commands.CMDS:
        assert callable(fn) and len(text) < WIDTH - 4


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
            await con.keys(bytes((c,)), nothing)
            seen.append("ducorig.commands" in sys.modules or hasattr(ducorig, "commands"))
        return seen

    assert asyncio.run(go()) == [False] * 5
    lines = rig.out.lines
    assert lines[:4] == ["> 1#", "slave 1: b", "> p", "pausing slave 1 after the current share"]
    assert "Ctrl-C" in lines[-5] and lines[-1] == "mining, 0 held, sel 1"  # each command answered


def test_a_failed_command_drops_the_module_too():
    rig = Rig()
    rig.held = None  # the overview's "%d held" fails on it
    rig, con, lines = feed(b"o0#", rig)
    assert lines[-3].startswith("? o: TypeError") and lines[-1] == "slave 0: a"
    assert "ducorig.commands" not in sys.modules and not hasattr(ducorig, "commands")


def test_raw_line_needs_a_selection_and_a_pause():
    rig, con, lines = feed(b">")
    assert lines == ["> >", "? select a slave first: n#"]
    rig, con, lines = feed(b"1#>")
    assert lines[-1] == "? pause first (p): the worker owns the slave"
    rig, con, lines = feed(b"1#p>")  # paused, but not yet held: its share in flight
    assert lines[-1] == "? pause first (p): the worker owns the slave"
    rig = Rig()
    rig.workers[1].stats.state = "paused"  # held at the gate
    rig, con, lines = feed(b"1#p>V12\x1b", rig)
    assert con.line is None and lines[-1].endswith("cancelled")


def test_raw_line_reply_is_hex_and_text():
    rig = Rig()
    rig.workers[1].stats.state = "paused"
    rig.bus.reply = b"Ie "
    rig, con, lines = feed(b"1#3>S\r", rig)
    assert rig.bus.sent == [(9, b"S"), (9, None)]
    assert lines[-1] == '0x09 replied 49 65 20 ("Ie ")'
