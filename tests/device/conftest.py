import pytest

from tests.conftest import session_pool


@pytest.fixture(autouse=True, scope="session")
def _device_pool():
    """CPython runs of device tests see the same emulator as MicroPython ones."""
    session_pool()
