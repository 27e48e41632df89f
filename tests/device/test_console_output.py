# The console's output on both runtimes, on a 20-slave rig (a real Rig and
# its statistics, with shares booked by hand: the rig bus has 4 slaves).
# On the chip a write to the UART blocks once its FIFO is full, and moves
# ~11.5 bytes a ms at 115200 baud: so the console never writes more than 170
# bytes (15 ms) without a yield between, whatever it prints. A writer double
# counts the bytes written between two turns of a ticker task, which runs
# whenever the console yields. And every line is for people: at most 79
# columns, no Python reprs.
# mpunit: heapsize=512k
import asyncio

from ducorig.console import Console
from test_rig import make_rig

MOST_WITHOUT_A_YIELD = 170  # bytes: 15 ms at 115200 baud
WIDTH = 79  # characters a line: the cursor stays on an 80-column line


class Uart:
    """The console's out: the bytes written in each turn of the ticker."""

    def __init__(self):
        self.turn = 0
        self.pieces = {}  # turn -> bytes written in it
        self.text = ""

    def write(self, text):
        self.pieces[self.turn] = self.pieces.get(self.turn, 0) + len(text)
        self.text += text


def twenty_slave_rig():
    r = make_rig("console-out", slaves=tuple(range(8, 28)))
    for i, s in enumerate(r.stats.slaves):
        s.protocol = "ducorig" if i % 4 else "yaum"
        s.ducoid = "DUCOID%016X" % (i * 7919)
        s.state = ("hash", "submit", "paused", "bus error")[i % 4]
        for k in range(3):
            s.add_share(50, 13, 850000, 52, 289)  # 340 H/s
            s.book("GOOD", None)
        s.book("BAD", "Too low starting difficulty")
        s.count(s.lost, "slave failed")
        s.count(s.errors, "bus: absent")
    return r


async def test_long_output_is_written_in_pieces_with_a_yield_between():
    r = twenty_slave_rig()
    uart = r.out = Uart()
    con = Console(r)
    printing = True

    async def ticker():
        while printing:
            uart.turn += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    for key in b"?odsC":
        await con.key(key)
    printing = False
    await task
    lines = uart.text.split("\n")[:-1]
    assert len(lines) > 20 * 7 and len(uart.text) > 20 * 500  # d alone: 7 lines of ~50 bytes a slave
    assert max(uart.pieces.values()) <= MOST_WITHOUT_A_YIELD, max(uart.pieces.values())
    assert len(uart.pieces) > len(lines) // 2  # many turns, not one long write
    assert all(len(line) <= WIDTH for line in lines), [line for line in lines if len(line) > WIDTH]
    for repr_mark in ("{'", "['", "b'", "None"):
        assert repr_mark not in uart.text, repr_mark


async def test_a_paused_or_failed_slave_shows_no_hash_rate():
    r = twenty_slave_rig()
    con = Console(r)
    await con.command("0#d1#d2#d3#d#o")
    text = "".join(r.out.lines)
    assert text.count("  340 H/s, ") == 2 and text.count("  - H/s, ") == 2  # hash, submit; paused, bus error
    rows = [line for line in text.split("\n") if line[:2] in (" 0", " 1", " 2", " 3")]
    assert [row.split()[2:4] for row in rows[:3]] == [["hash", "340"], ["submit", "340"], ["paused", "-"]]
    assert rows[3].split()[2:5] == ["bus", "error", "-"]
