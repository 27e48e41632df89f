"""The one guard of every test that needs the AVR tool chain and simavr:
a skip with the install line, or a failure under CI=true (no silent skips)."""
import os

import pytest

from ducorig_host.simbus.avr import APT_PACKAGES, missing_tools


def require(*extra: str) -> None:
    """extra: further things the test needs, each as a message when missing."""
    missing = missing_tools() + list(extra)
    if missing:
        message = f"AVR tool chain missing ({', '.join(missing)}): apt-get install {' '.join(APT_PACKAGES)}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
