import pytest

from tests import services


@pytest.fixture(autouse=True, scope="session")
def _device_services():
    """CPython runs of device tests see the same services as MicroPython ones."""
    services.start_all()
