"""The config a user copies (firmware/esp8266/config.example.json) is one the
controller accepts, with every section the README tells them to fill in."""
import json
from pathlib import Path

from ducorig import config

EXAMPLE = Path(__file__).resolve().parents[2] / "firmware" / "esp8266" / "config.example.json"


def test_the_example_config_passes_the_controllers_checks() -> None:
    cfg = config.parse(json.loads(EXAMPLE.read_text()))
    assert cfg.wifi.ssid and cfg.mining_key and "I2C" in cfg.software
    assert [s.address for s in cfg.slaves] == [8, 9, 10]
    assert config.masked(cfg)["wifi"]["password"] == "***" and config.masked(cfg)["mining_key"] == "***"
