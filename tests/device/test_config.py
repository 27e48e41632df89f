# ducorig.config on both runtimes: a bad value is reported by its key with the
# reason, every problem at once, and nothing is half-configured.
import os

from ducorig import config

GOOD = {"user": "alice", "pool": {"host": "127.0.0.1", "port": 6000},
        "slaves": [{"address": 8}, {"address": 9, "name": "left", "protocol": "yaum"}]}


def problems(data):
    try:
        config.parse(data)
    except config.ConfigError as e:
        return e.problems
    raise AssertionError("no ConfigError")


def with_(**changes):
    data = dict(GOOD)
    data.update(changes)
    return data


def test_a_good_config_gets_the_defaults():
    cfg = config.parse(GOOD)
    assert (cfg.user, cfg.pool.port, cfg.tier, cfg.i2c.freq, cfg.i2c.scl, cfg.i2c.sda) == ("alice", 6000, "AVR", 100000, 5, 4)
    assert "I2C" in cfg.software and cfg.mining_key is None
    assert [(s.address, s.name, s.protocol) for s in cfg.slaves] == [(8, "pm0", "auto"), (9, "left", "yaum")]
    assert cfg.notes == []


def test_each_bad_value_is_named_by_its_key():
    cases = [
        (with_(user=""), "user:"),
        (with_(usr="bob"), "usr: unknown key"),
        (with_(pool={"host": "h", "port": 70000}), "pool.port:"),
        (with_(pool={"host": "h"}), "pool.port: missing"),
        (with_(software="ducorig"), "software:"),
        (with_(tier="GPU"), "tier:"),
        (with_(mining_key="a,b"), "mining_key:"),
        (with_(i2c={"freq": 1000000}), "i2c.freq:"),
        (with_(i2c={"sda": 40}), "i2c.sda:"),
        (with_(slaves=[{"address": 7}]), "slaves[0].address:"),
        (with_(slaves=[{"address": 8}, {"address": 8}]), "slaves[1].address: 8 is also slaves[0]"),
        (with_(slaves=[{"address": 8, "protocol": "c"}]), "slaves[0].protocol: 'c' is not one of auto, ducorig, yaum"),
        (with_(slaves=[{"address": 8, "dialect": "x"}]), "slaves[0].dialect: 'x' is not one of auto, d, c"),
        (with_(slaves=[{"address": 8, "dialect": "d", "protocol": "yaum"}]), "slaves[0].dialect: give only protocol"),
        (with_(slaves=[]), "slaves: must be a list of 1..20"),
        (with_(slaves=[{"address": 8 + i} for i in range(21)]), "slaves: must be a list of 1..20"),
        (with_(poll_ms=0), "poll_ms:"),
        (with_(pool={"discover": "ftp://server.duinocoin.com/getPool"}), "pool.discover:"),
        (with_(pool={"port": 6000}), "pool.host: missing (needed unless pool.discover is set)"),
        (with_(i2c={"scl": 4}), "i2c.sda: GPIO4 is already i2c.scl"),
        (with_(i2c={"ready_pin": 5}), "i2c.ready_pin: GPIO5 is already i2c.scl"),
        (with_(i2c={"ready_pin": config.BYPASS_PIN}), "i2c.ready_pin: GPIO13 is already the autostart bypass"),
    ]
    for data, expected in cases:
        found = problems(data)
        assert len(found) == 1 and found[0].startswith(expected), (expected, found)


def test_a_pool_to_ask_for_needs_no_address():
    cfg = config.parse(with_(pool={"discover": "https://server.duinocoin.com/getPool"}))
    assert (cfg.pool.host, cfg.pool.port, cfg.pool.discover) == (None, None, "https://server.duinocoin.com/getPool")


def test_every_problem_is_reported_at_once():
    found = problems({"pool": {"port": "x"}, "slaves": "none", "colour": 1})
    assert len(found) == 5, found  # user, pool.host, pool.port, colour, slaves


def test_a_missing_or_broken_file_is_a_config_error():
    assert "cannot read" in problems_of_load("/nonexistent/config.json")
    path = (os.getenv("TMPDIR") or "/tmp") + "/ducorig-broken-config.json"
    with open(path, "w") as f:
        f.write("{not json")
    try:
        assert "not valid JSON" in problems_of_load(path)
    finally:
        os.remove(path)


def problems_of_load(path):
    try:
        config.load(path)
    except config.ConfigError as e:
        return e.problems[0]
    raise AssertionError("loaded")


def test_masked_hides_the_secrets():
    cfg = config.parse(with_(mining_key="secret", wifi={"ssid": "home", "password": "pw"}))
    shown = config.masked(cfg)
    assert shown["mining_key"] == "***" and shown["wifi"]["password"] == "***"
    assert shown["wifi"]["ssid"] == "home" and shown["slaves"][1]["protocol"] == "yaum"


def test_a_checked_config_does_not_keep_the_checker_alive():
    # rig.main() drops the config module after parsing; a method on any class
    # of the result would tie the module's globals (its tables) to the rig.
    cfg = config.parse(GOOD)
    for obj in (cfg, cfg.pool, cfg.i2c, cfg.wifi, cfg.slaves[0]):
        assert [k for k, v in type(obj).__dict__.items() if callable(v)] == [], type(obj)


def test_two_bad_addresses_are_both_named():
    found = problems(with_(slaves=[{"address": 3}, {"address": "x"}]))
    assert [p.split(":")[0] for p in found] == ["slaves[0].address", "slaves[1].address"], found


def test_an_old_config_with_dialect_still_loads():
    # Configs written before the key was renamed: dialect d | c | auto.
    cfg = config.parse(with_(slaves=[{"address": 8, "dialect": "d"}, {"address": 9, "dialect": "c"},
                                     {"address": 10, "dialect": "auto"}, {"address": 11}]))
    assert [s.protocol for s in cfg.slaves] == ["ducorig", "yaum", "auto", "auto"]
    assert len(cfg.notes) == 1 and "deprecated" in cfg.notes[0] and "slaves 0, 1, 2" in cfg.notes[0], cfg.notes
