# A tiny test runner for device tests on the MicroPython unix port.
# Usage: micropython mpunit.py [--list] MODULE
# Runs (or lists) every module-level test_* function, awaiting coroutines, and
# prints one marker line per test that tests/conftest.py turns into results.
import sys

import asyncio


def tests_of(mod):
    return sorted(n for n in dir(mod) if n.startswith("test_"))


def run(mod):
    failed = 0
    for test in tests_of(mod):
        try:
            ret = getattr(mod, test)()
            if hasattr(ret, "send"):  # an async test: a coroutine on MicroPython
                asyncio.run(ret)
            print("@@PASS", test)
        except Exception as e:
            failed += 1
            print("@@FAIL", test)
            sys.print_exception(e)
            print("@@END", test)
        finally:
            asyncio.new_event_loop()  # asyncio.run keeps tasks between runs
    return failed


if sys.argv[1] == "--list":
    for name in tests_of(__import__(sys.argv[2])):
        print("@@TEST", name)
else:
    sys.exit(1 if run(__import__(sys.argv[1])) else 0)
