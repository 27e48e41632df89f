"""The console's RAM, measured on the MicroPython unix port with the library
imported from a ROMFS image, as a deploy ships it and the simulator runs it
(bytecode in place; what a module costs is its objects on the heap). The
resident part (ducorig.console) stays under a budget; the commands
(ducorig.commands) are imported per command and give their RAM back when
dropped."""
from __future__ import annotations

import re

from tests.romimage import run_on_romfs

# Measured 1,664 B for `import ducorig.console` after ducorig.rig (64-bit unix
# port; it was 7,488 B while the commands lived in it); ~20% on top.
CONSOLE_BUDGET = 2000

MEASURE = """
import gc, sys, micropython, ducorig
from ducorig import rig  # all the rig imports before it starts the console

def free():
    gc.collect()
    return gc.mem_free()

micropython.qstr_info()
a = free()
from ducorig import console
b = free()
micropython.qstr_info()
from ducorig import commands
c = free()
del sys.modules["ducorig.commands"], ducorig.commands, commands
d = free()
print("heap", a - b, b - c, b - d)
"""


def qstr_pool_growth(before: str, after: str) -> int:
    """Bytes of a qstr pool MicroPython added between two qstr_info lines:
    each new pool doubles the last one (several KB at once), whichever import
    happens to fill it; not the console's own cost."""
    def numbers(line: str) -> dict[str, int]:
        return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}

    b, a = numbers(before), numbers(after)
    if a["n_pool"] == b["n_pool"]:
        return 0
    return (a["n_total_bytes"] - b["n_total_bytes"]) - (a["n_str_data_bytes"] - b["n_str_data_bytes"])


def test_the_resident_console_fits_its_budget_and_the_commands_give_their_ram_back(tmp_path):
    lines = run_on_romfs(tmp_path, MEASURE)
    pools = [line for line in lines if line.startswith("qstr pool:")]
    console, loaded, kept = (int(v) for v in lines[-1].split()[1:])
    assert console - qstr_pool_growth(pools[0], pools[1]) < CONSOLE_BUDGET, lines
    # Loaded, the commands take several times the resident part; dropped, all
    # but their interned names (qstrs, which MicroPython never frees) comes back.
    assert loaded > 2 * console and kept < loaded // 10, lines
