# The console's paste guard on both runtimes: a read that finds more than one
# key waiting is a paste, and none of it runs; one line says what was ignored.
# A number and its letter are one key; an arrow key's Esc sequence is one
# key; Ctrl-C still stops. Against the parser's stand-in rig, and against a
# real mining rig (test_rig's: the session pool emulator and the rig bus) to
# show that a paste of every command letter changes nothing.
# mpunit: heapsize=512k
import asyncio

from ducorig.console import Console, keys_in
from test_console_parser import Rig, nothing, quotas
from test_rig import make_rig, until

EVERY_KEY = b"?odspgcXS>bfzvCwRqm#"  # every command letter, and the selection


def drains(*chunks):
    """A drain() that returns chunks, one a call, then nothing: what arrives
    while the console waits for a paste to end."""
    left = list(chunks)
    return lambda: left.pop(0) if left else b""


def read(con, data, drain=nothing):
    return asyncio.run(con.keys(data, drain))


def test_keys_in_counts_what_acts():
    assert keys_in(b"12345g") == 1 and keys_in(b"12\x08 \r\n") == 0
    assert keys_in(b"\x1b[1;5C") == 1 and keys_in(b"\x1b[A\x1b[B") == 2
    assert keys_in(b"xyzjkQWE") == 8 and keys_in(EVERY_KEY) == len(EVERY_KEY)


def test_a_number_and_its_letter_in_one_read_is_one_command():
    rig = Rig()
    con = Console(rig)
    assert read(con, b"12g")
    assert quotas(rig) == [11, 11, 11] and rig.out.lines[0] == "> 12g"
    assert read(con, b"\x1b[C")  # an arrow key: discarded, no paste
    assert read(con, b"1#")
    assert con.sel == 1 and rig.out.lines[-1] == "slave 1: b"


def test_a_paste_runs_nothing_and_says_so_in_one_line():
    rig = Rig()
    con = Console(rig)
    assert read(con, b"7")  # a number typed before: the paste drops it
    assert read(con, b"xyzjkQWE")
    assert rig.out.lines == ["? paste ignored (8 bytes), nothing ran: xyzjkQWE"] and con.num is None
    assert read(con, b"\xfe\xfdjkl\xff\x80\x81" * 8)
    assert rig.out.lines[-1] == "? paste ignored (64 bytes), nothing ran: ..jkl.....jkl.....jkl......"
    assert len(rig.out.lines) == 2 and rig.running and rig.stats.zeroed == 0


def test_a_paste_that_arrives_in_pieces_is_one_paste():
    rig = Rig()
    con = Console(rig)
    assert read(con, b"ab", drains(b"q", b"pz", b"X"))  # each piece alone would run
    assert rig.out.lines == ["? paste ignored (6 bytes), nothing ran: ab..."]
    assert rig.running and quotas(rig) == [None, None, None] and rig.bus.sent == []


def test_ctrl_c_in_a_paste_still_stops():
    # mpremote sends \r\x03 and then \r\x01, which may arrive together
    rig = Rig()
    con = Console(rig)
    assert not read(con, b"\r\x03\r\x01")
    assert not rig.running and con.interrupted
    rig = Rig()
    con = Console(rig)
    assert not read(con, b"zz", drains(b"q\x03"))
    assert not rig.running and rig.stats.zeroed == 0


def test_a_paste_into_a_raw_line_cancels_it():
    rig = Rig()
    rig.workers[1].stats.state = "paused"
    con = Console(rig)
    for c in b"1#>V":
        assert read(con, bytes((c,)))
    assert con.line == 1
    assert read(con, b"12\rXq")
    assert con.line is None and rig.bus.sent == []
    assert rig.out.lines[-2:] == ["raw 1> V cancelled", "? paste ignored (5 bytes), nothing ran: 12.Xq"]


async def test_a_pasted_burst_of_every_command_changes_nothing_on_a_mining_rig():
    r = make_rig("console-paste", slaves=(8, 11))  # a ducorig and a yaum slave
    con = Console(r)
    task = asyncio.create_task(r.run())
    try:
        await until(lambda: all(s.accepted >= 1 for s in r.stats.slaves), "first shares")
        started, freq, lines = r.stats.started, r.cfg.i2c.freq, len(r.out.lines)
        accepted = [s.accepted for s in r.stats.slaves]
        assert await con.keys(b"1" + EVERY_KEY, drains(b"5g0#p100f", bytes(reversed(EVERY_KEY)), b"1v"))
        out = r.out.lines[lines:]
        assert len(out) == 1 and out[0].startswith("? paste ignored (")
        assert r.running and not r.verbose and con.sel is None and con.num is None and con.line is None
        assert [w.quota for w in r.workers] == [None, None] and r.held == 0
        assert r.stats.started == started and r.cfg.i2c.freq == freq and r.bus.failures == 0
        # mining goes on: every slave's count rises from where it was (not
        # zeroed, not paused, not reset: no slave error)
        await until(lambda: all(s.accepted >= a + 2 for s, a in zip(r.stats.slaves, accepted)), "mining on")
        assert [s.errors for s in r.stats.slaves] == [{}, {}]
        assert [line for line in r.out.lines[lines:] if not line.startswith("?")] == []
    finally:
        r.stop()
        await task




def failing_imports(times):
    """builtins.__import__ refusing the commands module times times with a
    MemoryError, as a heap too fragmented for its table of constants does
    (the fault bench met one after 20 minutes at 18 slaves); undo()
    restores it."""
    import builtins

    real = builtins.__import__
    left = [times]

    def refuse(name, globals=None, locals=None, fromlist=(), level=0):
        if left[0] and name == "ducorig" and fromlist and "commands" in fromlist:
            left[0] -= 1
            raise MemoryError("memory allocation failed, allocating 564 bytes")
        return real(name, globals, locals, fromlist, level)

    def undo():
        builtins.__import__ = real

    builtins.__import__ = refuse
    return undo


def test_a_heap_without_room_for_the_commands_costs_one_line_not_the_console():
    rig = Rig()
    con = Console(rig)
    undo = failing_imports(2)  # refused twice: the third try finds the room
    try:
        assert read(con, b"xyzjk")
    finally:
        undo()
    assert rig.out.lines == ["? paste ignored (5 bytes), nothing ran: xyzjk"]
    undo = failing_imports(6)  # refused every time: one line, and the console reads on
    try:
        assert read(con, b"xyzjk") and read(con, b"5g")
    finally:
        undo()
    assert rig.out.lines[1:] == ["? console: MemoryError memory allocation failed, allocating 564 bytes"] * 2
    assert quotas(rig) == [None, None, None]
    assert read(con, b"5g") and quotas(rig) == [4, 4, 4]  # the heap has room again: it runs
