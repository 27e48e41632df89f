"""ducorig portcheck: every rule catches its construct, look-alikes pass, the
escape comment works, and the real lib/ is clean."""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from ducorig_host.portcheck import RULES, Finding, check_source, check_tree, main

ROOT = Path(__file__).resolve().parents[2]
LIB = ROOT / "lib"

needs_311 = pytest.mark.skipif(sys.version_info < (3, 11), reason="except* parses on Python >= 3.11")


def rules_of(source: str) -> list[str]:
    return [f.rule for f in check_source(textwrap.dedent(source), "t.py")]


def case(rule: str, source: str, *marks: pytest.MarkDecorator) -> pytest.ParameterSet:
    """A source planting exactly one forbidden construct, and the rule that must catch it."""
    shown = " / ".join(line.strip() for line in source.splitlines())
    return pytest.param(rule, source, id=f"{rule}: {shown}", marks=marks)


CASES: list[pytest.ParameterSet] = [
    # imports of missing modules, `import` and `from ... import`
    case("missing-module", "import typing"),
    case("missing-module", "from typing import List, Optional"),
    case("missing-module", "import dataclasses"),
    case("missing-module", "from dataclasses import dataclass"),
    case("missing-module", "import enum"),
    case("missing-module", "import logging"),
    case("missing-module", "from abc import ABC"),
    case("missing-module", "import traceback"),
    case("missing-module", "from __future__ import annotations"),
    case("missing-module", "from functools import partial"),
    case("missing-module", "import itertools"),
    case("missing-module", "from contextlib import suppress"),
    case("missing-module", "import threading"),
    case("missing-module", "import socketserver"),
    case("missing-module", "from pathlib import Path"),
    case("missing-module", "import os.path"),
    case("missing-module", "from os import path"),
    case("missing-module", "import concurrent.futures"),
    case("missing-module", "import cmath"),
    # asyncio names MicroPython lacks
    *[case("asyncio-name", f"import asyncio\nx = asyncio.{name}") for name in (
        "Queue", "Semaphore", "BoundedSemaphore", "all_tasks", "get_running_loop", "shield",
        "wait", "as_completed", "timeout", "TaskGroup", "to_thread", "Condition", "Barrier",
        "ensure_future")],
    case("asyncio-name", "from asyncio import Queue"),
    case("asyncio-name", "import asyncio as aio\nq = aio.Queue()"),
    case("asyncio-name", "import uasyncio as asyncio\nq = asyncio.Queue()"),
    case("asyncio-name", "from uasyncio import Semaphore"),
    # random: only getrandbits and seed
    *[case("random-name", f"import random\nx = random.{name}") for name in (
        "randint", "random", "choice", "uniform", "randrange", "shuffle", "sample")],
    case("random-name", "from random import randint"),
    case("random-name", "import urandom\nx = urandom.choice(items)"),
    # math
    *[case("math-name", f"import math\nx = math.{name}") for name in (
        "isclose", "inf", "nan", "tau", "erf", "erfc", "gamma", "lgamma", "factorial", "log10")],
    case("math-name", "from math import inf"),
    # binascii
    case("binascii-name", "import binascii\nc = binascii.crc32(b'x')"),
    case("binascii-name", "from binascii import crc32"),
    # methods, on anything
    case("esp8266-method", "a, _, b = s.partition(',')"),
    case("esp8266-method", "a, _, b = s.rpartition(',')"),
    case("esp8266-method", "lines = text.splitlines()"),
    case("esp8266-method", "t = s.center(20)"),
    case("missing-method", "t = '{a}'.format_map(d)"),
    case("missing-method", "t = s.ljust(8)"),
    case("missing-method", "t = s.removeprefix('JOB,')"),
    case("missing-method", "n = x.bit_length()"),
    case("bytes-hex", "t = digest.hex()"),
    case("bytes-hex", "b = bytes.fromhex('00ff')"),
    # keyword arguments builtins reject
    case("keyword-argument", "n = int.from_bytes(b, byteorder='big')"),
    case("keyword-argument", "n = int.from_bytes(b, 'big', signed=True)"),
    case("keyword-argument", "b = n.to_bytes(4, byteorder='little')"),
    case("keyword-argument", "f = s.split(',', maxsplit=1)"),
    case("keyword-argument", "b = s.encode(encoding='utf-8')"),
    case("keyword-argument", "n = int(s, base=16)"),
    case("keyword-argument", "print(x, flush=True)"),
    case("keyword-argument", "import json\nt = json.dumps(d, indent=2)"),
    # builtins MicroPython lacks
    case("missing-builtin", "try:\n    pass\nexcept TimeoutError:\n    pass"),
    case("missing-builtin", "try:\n    pass\nexcept ConnectionResetError:\n    pass"),
    case("missing-builtin", "t = ascii(x)"),
    case("missing-builtin", "t = format(n, 'x')"),
    case("not-implemented", "x = NotImplemented"),
    case("dynamic-code", "code = compile(src, 'f', 'exec')"),
    case("dynamic-code", "exec(src)"),
    case("dynamic-code", "x = eval(src)"),
    case("dynamic-code", "execfile('main.py')"),
    case("complex-number", "z = 1j"),
    case("complex-number", "z = complex(1, 2)"),
    case("module-file", "here = __file__"),
    case("pow-3-arg", "x = pow(2, 10, 7)"),
    case("pow-3-arg", "x = pow(2, 10, mod=7)"),
    # syntax
    case("match-statement", "match x:\n    case 1:\n        pass"),
    case("except-star", "try:\n    pass\nexcept* ValueError:\n    pass", needs_311),
    case("positional-only", "def f(a, /, b):\n    return a"),
    case("positional-only", "f = lambda a, /: a"),
    case("async-generator", "async def g():\n    yield 1"),
    case("async-comprehension", "async def f(it):\n    return [x async for x in it]"),
    case("async-comprehension", "async def f(xs):\n    return [await g(x) for x in xs]"),
    case("async-comprehension", "async def f(xs):\n    return {x: await g(x) for x in xs}"),
    case("exception-chaining", "try:\n    pass\nexcept OSError as e:\n    raise ValueError('x') from e"),
    case("exception-chaining", "raise ValueError('x') from None"),
    case("fstring-ascii", "t = f'{x!a}'"),
    case("slots", "class A:\n    __slots__ = ('a',)"),
    case("slots", "class A:\n    __slots__: tuple = ()"),
    *[case("special-method", f"class A:\n    def {name}(self, *args):\n        pass") for name in (
        "__setattr__", "__delattr__", "__getattribute__", "__del__", "__init_subclass__",
        "__class_getitem__")],
    case("class-keyword", "class A(Base, metaclass=Meta):\n    pass"),
    case("starred-display", "x = [*a, 1]"),
    case("starred-display", "x = (*a, 1)"),
    case("starred-display", "x = {*a}"),
    case("starred-display", "x = {**d, 'k': 1}"),
    # the checker's own rules
    case("escape-reason", "x = 1  # portcheck: ok"),
    case("unused-escape", "x = 1  # portcheck: ok no longer needed"),
    case("syntax-error", "def f(:\n    pass"),
]


@pytest.mark.parametrize(("rule", "source"), CASES)
def test_rule_catches_its_construct(rule: str, source: str) -> None:
    assert rules_of(source) == [rule]


def test_every_rule_has_a_case() -> None:
    assert {c.values[0] for c in CASES} == set(RULES)


@pytest.mark.parametrize(("rule", "source"), CASES)
def test_message_says_what_to_do(rule: str, source: str) -> None:
    (finding,) = check_source(source, "t.py")
    assert finding.rule in RULES
    assert ": " in finding.message and finding.message.split(": ")[-1]


CLEAN = '''
    import asyncio
    import binascii
    import hashlib
    import math
    import random
    import struct
    from binascii import hexlify, unhexlify
    from random import getrandbits

    from ducorig.ticks import ticks_ms
    from ducorig.compat import aio  # not the asyncio module: its names are its own

    from . import pool

    partition = 3  # a variable named like a missing method
    center = (0, 0)


    def split_once(s, sep, partition=None, format=None):
        # parameters named like missing methods and builtins
        i = s.find(sep)
        return s[:i], s[i + 1:]


    def compile(rules):  # a local function shadows the builtin
        return rules


    class TimeoutError(Exception):  # a local class shadows the missing builtin
        pass


    class Job:
        def __init__(self, center):
            self.center = center  # an attribute named like a method, not a call
            self.title = "job"

        def __repr__(self):
            return "Job(%r)" % (self.center,)

        def __getattr__(self, name):  # MicroPython supports __getattr__
            raise AttributeError(name)


    async def worker(lock: asyncio.Lock, event: asyncio.Event, xs):
        async with lock:
            await asyncio.sleep_ms(10)
        await asyncio.wait_for(event.wait(), 1)  # a method named wait, not asyncio.wait
        q = aio.Queue()
        t = asyncio.create_task(worker(lock, event, xs))
        await asyncio.gather(t, return_exceptions=True)
        jitter = random.getrandbits(8) + getrandbits(4)
        random.seed(1)
        x = math.sqrt(2) * math.pi + math.log(8, 2)
        try:
            await asyncio.wait_for_ms(event.wait(), 100)
        except asyncio.TimeoutError:
            pass
        except TimeoutError:  # the local class
            pass
        except OSError as e:
            print(f"{e!r} {x=} {x:>{8}}", end="", sep="")
        n = int.from_bytes(b"\\x00\\x01", "big")
        b = n.to_bytes(4, "big")
        word = struct.pack("<I", n)
        first, *rest = xs
        print(*rest, **{})
        y = pow(2, 8) + hash(b)
        head = "a,b".split(",", 1)[0]
        text = hexlify(b).decode() + binascii.hexlify(b).decode()
        raw = unhexlify(text)
        digest = hashlib.sha1(raw).hexdigest()
        seen = [v for v in await fetch()]  # the first iterable awaits in worker's scope
        rules = compile(seen)
        s = "# portcheck: ok inside a string is not a comment"
        for a, *b in xs:
            pass
        raise ValueError("bad %s" % s)


    def gen():
        yield 1


    async def uses_plain_generator():
        def inner():
            yield 1  # a plain generator nested in an async def
        return list(inner())
'''


def test_clean_code_has_no_findings() -> None:
    assert check_source(textwrap.dedent(CLEAN), "clean.py") == []


def test_escape_with_a_reason_allows_the_line() -> None:
    source = 'h = base.partition(",")  # portcheck: ok guarded by hasattr(base, "partition")\n'
    assert check_source(source, "t.py") == []


def test_escape_without_a_reason_allows_nothing() -> None:
    source = 'h = base.partition(",")  # portcheck: ok\n'
    assert rules_of(source) == ["escape-reason", "esp8266-method"]


def test_escape_covers_only_its_own_line() -> None:
    source = 'a = s.partition(",")  # portcheck: ok measured on the device\nb = s.partition(",")\n'
    assert [(f.line, f.rule) for f in check_source(source, "t.py")] == [(2, "esp8266-method")]


def test_finding_points_at_the_method_line_of_a_chain() -> None:
    source = "x = (text\n     .strip()\n     .splitlines())\n"
    (finding,) = check_source(source, "t.py")
    assert (finding.line, finding.rule) == (3, "esp8266-method")


def test_finding_format() -> None:
    (finding,) = check_source("import typing\n", "lib/ducorig/x.py")
    assert finding == Finding("lib/ducorig/x.py", 1, "missing-module", finding.message)
    assert str(finding).startswith("lib/ducorig/x.py:1: missing-module: module 'typing' is missing")


def test_check_tree_walks_subdirectories_and_single_files(tmp_path: Path) -> None:
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "ok.py").write_text("import asyncio\n")
    (tmp_path / "pkg" / "sub" / "bad.py").write_text("import random\nx = random.randint(1, 6)\n")
    (tmp_path / "pkg" / "notes.txt").write_text("import typing\n")
    bad = tmp_path / "pkg" / "sub" / "bad.py"
    assert [(f.filename, f.line, f.rule) for f in check_tree(tmp_path)] == [(str(bad), 2, "random-name")]
    assert check_tree(bad) == check_tree(tmp_path)


def test_cli_reports_findings_and_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import typing\ns = 'a,b'.partition(',')\n")
    (tmp_path / "good.py").write_text("x = 1\n")
    assert main([str(tmp_path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{bad}:1: missing-module: ")
    assert lines[1].startswith(f"{bad}:2: esp8266-method: ")
    assert lines[2] == "portcheck: 2 finding(s) in 1 of 2 file(s)"


def test_cli_passes_clean_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "good.py").write_text("import asyncio\n")
    assert main([str(tmp_path)]) == 0
    assert capsys.readouterr().out == "portcheck: 1 file(s), nothing the ESP8266 port lacks\n"


def test_cli_defaults_to_lib(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "bad.py").write_text("import enum\n")
    monkeypatch.chdir(tmp_path)
    assert main([]) == 1


def test_cli_rejects_a_missing_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "nope")]) == 2
    assert "no such file or directory" in capsys.readouterr().err


def test_cli_lists_the_rules(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--rules"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()] == list(RULES)


def test_lib_uses_nothing_the_esp8266_port_lacks() -> None:
    assert sorted(LIB.rglob("*.py")), "lib/ not found next to tests/"
    findings = check_tree(LIB)
    assert not findings, "\n" + "\n".join(map(str, findings))
