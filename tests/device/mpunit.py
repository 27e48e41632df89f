# A tiny test runner for device tests on the MicroPython unix port.
# Usage: micropython mpunit.py MODULE
# Runs every module-level test_* function (awaiting coroutines), and prints
# one marker line per test that tests/conftest.py turns into pytest results.
import sys

import asyncio


def run(name):
    mod = __import__(name)
    failed = 0
    for test in sorted(n for n in dir(mod) if n.startswith("test_")):
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


sys.exit(1 if run(sys.argv[1]) else 0)
