"""The simulator's slave kinds carry the protocols' names (ducorig, yaum) and
avr for the sketch; the old name `model` still means the ducorig model."""
import pytest

from ducorig_host.simbus.ducorig import DucorigSlave
from ducorig_host.simbus.yaum import YaumSlave
from ducorig_host.simrig import SimError, parse_slaves, slave_class


def test_kinds_are_named_by_protocol():
    assert parse_slaves("ducorig:2,yaum:1") == ["ducorig", "ducorig", "yaum"]
    assert parse_slaves("3") == ["ducorig"] * 3
    assert slave_class("ducorig") is DucorigSlave and slave_class("yaum") is YaumSlave
    assert DucorigSlave.protocol == "ducorig" and YaumSlave.protocol == "yaum"


def test_model_is_an_alias_of_ducorig():
    assert parse_slaves("model:2,yaum:1") == ["ducorig", "ducorig", "yaum"]


def test_an_unknown_kind_names_the_known_ones():
    with pytest.raises(SimError, match="use ducorig, yaum, avr"):
        parse_slaves("ours:2")
