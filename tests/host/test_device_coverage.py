"""Every module of lib/ducorig must be exercised by a test that also runs on
MicroPython: some tests/device/test_*.py must import it."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def device_imports() -> set[str]:
    names: set[str] = set()
    for test in (ROOT / "tests" / "device").glob("test_*.py"):
        for node in ast.walk(ast.parse(test.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
                names.update(f"{node.module}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
    return names


def lib_modules() -> list[str]:
    return sorted(f"ducorig.{p.stem}" for p in (ROOT / "lib" / "ducorig").glob("*.py") if p.stem != "__init__")


def test_every_lib_module_has_a_micropython_run_test():
    imported = device_imports()
    missing = [m for m in lib_modules() if m not in imported]
    assert not missing, f"lib modules without a device test (tests/device): {missing}"


def test_the_check_sees_the_lib_modules():
    assert "ducorig.pool" in lib_modules() and "ducorig.duco" in lib_modules()
