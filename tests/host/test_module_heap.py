"""The heap that the controller's modules keep while a rig mines, measured on
the MicroPython unix port with the library imported from a ROMFS image, as a
deploy ships it and the simulator runs it (bytecode stays in the image; what
a module costs is its function, class and constant objects, its globals and
the interned names it adds). It must stay under its budget, so that new code
cannot silently eat the room the slaves need (docs/chip-budget.md)."""
from __future__ import annotations

from tests.romimage import run_on_romfs

# What a mining rig keeps imported: ducorig.rig and all it imports, the ready
# line's watcher and the resident console (the commands, the config checker,
# getPool and the stats report come and go). Measured 30,112 B on the 64-bit
# unix port (about half that on the ESP8266), of which ~11 KB are interned
# names; the budget is that and ~5 %. The target is 16 KB: not met yet.
MODULES_BUDGET = 31_600

MEASURE = """
import gc, asyncio
def free():
    gc.collect()
    return gc.mem_free()
before = free()
from ducorig import rig, ready, console
print("modules", before - free())
"""


def test_the_modules_of_a_mining_rig_fit_their_heap_budget(tmp_path):
    used = int(run_on_romfs(tmp_path, MEASURE)[-1].split()[-1])
    assert 10_000 < used <= MODULES_BUDGET, f"the modules take {used} B of heap, over their budget of {MODULES_BUDGET}"
