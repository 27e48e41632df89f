# The rig's configuration: one JSON file on the device (config.json).
# Every key is checked before anything starts; all problems are reported at
# once, each by its key and the reason, so nothing starts half-configured.
import json

TIERS = ("AVR", "MEGA", "ARM", "DUE", "auto")
# The slaves' protocols (docs/i2c-protocol.md); "auto" asks each slave.
PROTOCOLS = ("auto", "ducorig", "yaum")
# The key's old name and values, still read (with a deprecation note).
_OLD_DIALECTS = {"auto": "auto", "d": "ducorig", "c": "yaum"}
DEFAULT_PATH = "config.json"
BYPASS_PIN = 13  # held low at reset: no autostart (ducorig.autostart)


class ConfigError(ValueError):
    def __init__(self, problems):
        self.problems = problems
        super().__init__("config: " + "; ".join(problems))


# Plain holders without methods: a method would tie every checked config to
# this module's globals and keep its tables in RAM after rig.main() drops it.
class Slave:
    """One slave: address, name, protocol."""


class Config:
    """The checked configuration; attributes as in config.example.json,
    and notes: lines to show the user (deprecated keys read anyway)."""


# key -> (type check, default or _REQUIRED, reason shown when the check fails)
_REQUIRED = object()


def _text(v):
    return isinstance(v, str) and 0 < len(v) <= 64 and "," not in v and "\n" not in v


def _port(v):
    return isinstance(v, int) and 0 < v < 65536


def _pin(v):
    return v is None or (isinstance(v, int) and 0 <= v <= 16)


def _between(low, high):
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and low <= v <= high


def _addr_or_none(v):
    return v is None or (isinstance(v, str) and v.count(":") == 1 and _port_text(v.split(":")[1]))


def _url_or_none(v):
    return v is None or (isinstance(v, str) and len(v) <= 128 and v.split("://")[0] in ("http", "https"))


def _port_text(s):
    return s.isdigit() and _port(int(s))


_SCALARS = {
    "user": (_text, _REQUIRED, "a username (no commas)"),
    "mining_key": (lambda v: v is None or _text(v), None, "null or the mining key (no commas)"),
    "rig": (_text, "ducorig", "a rig name (no commas)"),
    "software": (lambda v: _text(v) and "I2C" in v, "ducorig I2C 0.1",
                 "a software name containing 'I2C' (the wallet recognises I2C rigs by it)"),
    "wallet_id": (lambda v: v is None or _between(0, 2147483647)(v), None, "null or an integer 0..2^31-1"),
    "tier": (lambda v: v in TIERS, "AVR", "one of " + ", ".join(TIERS)),
    "pool_timeout_ms": (_between(500, 120000), 10000, "an integer 500..120000"),
    "poll_ms": (lambda v: v is None or _between(2, 5000)(v), None, "null (auto) or an integer 2..5000"),
    "poll_budget": (_between(10, 2000), 100, "status polls per second for the whole rig, 10..2000"),
    "stagger_ms": (_between(0, 60000), 500, "an integer 0..60000"),
    "report": (_addr_or_none, None, "null or host:port to send stats lines to"),
}
_SECTIONS = {
    "wifi": {
        "ssid": (lambda v: isinstance(v, str) and len(v) <= 32, "", "the WiFi network name"),
        "password": (lambda v: isinstance(v, str) and len(v) <= 64, "", "the WiFi password"),
    },
    "pool": {
        # host and port: the node to mine on; with discover, only the first
        # guess (and the fallback while the API is unreachable)
        "host": (lambda v: v is None or (isinstance(v, str) and 0 < len(v) <= 64), None,
                 "the pool host name or IP"),
        "port": (lambda v: v is None or _port(v), None, "a TCP port 1..65535"),
        "discover": (_url_or_none, None, "null or the REST API's getPool URL (http:// or https://)"),
    },
    "i2c": {
        "scl": (_pin, 5, "a GPIO number 0..16"),
        "sda": (_pin, 4, "a GPIO number 0..16"),
        "freq": (_between(10000, 400000), 100000, "an I2C clock 10000..400000 Hz"),
        "ready_pin": (_pin, None, "null or the GPIO of the shared ready line"),
        "sim": (_addr_or_none, None, "null or host:port of a simulated bus"),
    },
}


def _check(problems, where, table, given, target):
    if not isinstance(given, dict):
        problems.append("%s: must be an object" % (where or "config"))
        return
    for key in given:
        if key not in table and not (where == "" and (key in _SECTIONS or key == "slaves")):
            problems.append("%s: unknown key" % (where + key))
    for key in table:
        check, default, reason = table[key]
        if key not in given:
            if default is _REQUIRED:
                problems.append("%s: missing (%s)" % (where + key, reason))
            setattr(target, key, None if default is _REQUIRED else default)
        elif not check(given[key]):
            problems.append("%s: %r is not %s" % (where + key, given[key], reason))
        else:
            setattr(target, key, given[key])


def _slaves(problems, notes, given):
    if not isinstance(given, list) or not 1 <= len(given) <= 20:
        problems.append("slaves: must be a list of 1..20 slaves")
        return []
    slaves = []
    seen = {}
    old = []  # entries with the old key
    for i, entry in enumerate(given):
        where = "slaves[%d]." % i
        if isinstance(entry, dict) and "dialect" in entry:
            entry = _old_dialect(problems, where, entry)
            old.append(i)
        s = Slave()
        _check(problems, where, {
            "address": (_between(8, 99), _REQUIRED, "an I2C address 8..99"),
            "name": (_text, "pm%d" % i, "a short name (no commas)"),
            "protocol": (lambda v: v in PROTOCOLS, "auto", "one of " + ", ".join(PROTOCOLS)),
        }, entry, s)
        address = getattr(s, "address", None)  # unset when it failed its check
        if address in seen:
            problems.append("%saddress: %d is also slaves[%d]" % (where, address, seen[address]))
        if address is not None:
            seen[address] = i
        slaves.append(s)
    if old:
        notes.append('config: "dialect" is deprecated, read as "protocol" (slaves %s); write "protocol": '
                     '"ducorig", "yaum" or "auto"' % ", ".join(str(i) for i in old))
    return slaves


def _old_dialect(problems, where, entry):
    """The entry with its old "dialect" (d, c) as "protocol"."""
    entry = dict(entry)
    old = entry.pop("dialect")
    if "protocol" in entry:
        problems.append(where + "dialect: give only protocol (dialect is its old name)")
    elif old in _OLD_DIALECTS:
        entry["protocol"] = _OLD_DIALECTS[old]
    else:
        problems.append("%sdialect: %r is not one of auto, d, c (its new name is protocol: %s)"
                        % (where, old, ", ".join(PROTOCOLS)))
    return entry


def _pool(problems, pool):
    """A pool to start with: its address, or where to ask for one."""
    if hasattr(pool, "discover") and pool.discover is None:  # unset: it failed its own check
        for key in ("host", "port"):
            if hasattr(pool, key) and getattr(pool, key) is None:
                problems.append("pool.%s: missing (needed unless pool.discover is set)" % key)


def _pins(problems, i2c):
    """One job per GPIO: a ready line on the bypass pin, held low by a slave
    at reset, would keep the rig in the REPL."""
    jobs = {BYPASS_PIN: "the autostart bypass"}
    for key in ("scl", "sda", "ready_pin"):
        pin = getattr(i2c, key, None)
        if pin is None:
            continue
        if pin in jobs:
            problems.append("i2c.%s: GPIO%d is already %s" % (key, pin, jobs[pin]))
        else:
            jobs[pin] = "i2c." + key


def parse(data):
    """A Config from the decoded JSON object; ConfigError lists every problem."""
    problems = []
    cfg = Config()
    cfg.notes = []
    _check(problems, "", _SCALARS, data, cfg)
    if isinstance(data, dict):
        for name in _SECTIONS:
            section = Config()
            _check(problems, name + ".", _SECTIONS[name], data.get(name, {}), section)
            setattr(cfg, name, section)
        _pool(problems, cfg.pool)
        _pins(problems, cfg.i2c)
        cfg.slaves = _slaves(problems, cfg.notes, data.get("slaves"))
    if problems:
        raise ConfigError(problems)
    return cfg


def load(path=DEFAULT_PATH):
    try:
        with open(path) as f:
            data = json.load(f)
    except OSError as e:
        raise ConfigError(["%s: cannot read: %s" % (path, e)])
    except ValueError as e:
        raise ConfigError(["%s: not valid JSON: %s" % (path, e)])
    return parse(data)


def masked(cfg):
    """The configuration as a dict with its secrets masked (for display)."""
    out = {}
    for key in _SCALARS:
        out[key] = getattr(cfg, key)
    if cfg.mining_key:
        out["mining_key"] = "***"
    for name in _SECTIONS:
        section = getattr(cfg, name)
        out[name] = dict((k, getattr(section, k)) for k in _SECTIONS[name])
    if out["wifi"]["password"]:
        out["wifi"]["password"] = "***"
    out["slaves"] = [{"address": s.address, "name": s.name, "protocol": s.protocol} for s in cfg.slaves]
    return out
