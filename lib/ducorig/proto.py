# The Pro Mini I2C protocol codec (docs/i2c-protocol.md): the frames a master
# writes and the replies it reads, for the ducorig protocol and for the seed's
# yaum protocol. Pure: no I/O, so the slave driver, the conformance suite
# and the host-side slave models share one definition of every byte.


# A reply that is garbled, truncated or not of the expected shape. A name for
# ValueError, not a class of its own: on the chip every class costs heap.
ProtoError = ValueError


MAX_TRANSFER = 32  # AVR Wire buffer: no ducorig transfer is longer
MAX_WRITE = 31  # our longest write; a slave that receives 32 bytes saw an over-long one
MAX_DIFF = 655  # 100 * diff must fit the sketch's 16-bit nonce (as in the official sketch)
MAX_RATE_CAP = 9999  # W takes 1..4 digits
DEFAULT_RATE_CAP = 370  # H/s after every reset: just under the pool's AVR tier (380)
DIFF_DIGITS = 6  # the O frame's difficulty field: 1..6 digits, so 31 bytes at most

# Status byte 1: the wire version, which changes whenever the wire does
# (docs/i2c-protocol.md section 1). 'd' had no rate cap and never shipped.
WIRE_VERSION = 0x65  # 'e': a ducorig slave
YAUM_WIRE_VERSION = 0x63  # 'c': a yaum slave, right after A

# Selectors and commands without payload.
STATUS = b"S"
RESULT = b"R"
ELAPSED = b"E"
DUCOID = b"I"
CLEAR = b"A"
REHASH = b"H"
RESET = b"X"

# Reply lengths (a read longer than the reply returns 0xFF filler).
STATUS_LEN = 3
RESULT_LEN = 20  # <state><nonce:5>,<elapsed_us:10>,<crc:2>
DUCOID_LEN = 25  # DUCOID<16 hex>,<crc:2>
YAUM_NUMBER_LEN = 5  # R and E of yaum: printf("%5u")
YAUM_DUCOID_LEN = 22  # of yaum's 24-byte reply ("%-22s  ")

# States: status byte 0, also byte 0 of the result reply.
STATES = b"ZILBCNRE"
BOOTED, IDLE, LOADING, BUSY, FOUND, NOT_FOUND, REFUSED, CRC_ERROR = STATES
# Verdicts: status byte 2, the outcome of the last action command.
VERDICTS = b" ?!#>^+"
OK, UNKNOWN, NOT_NOW, BAD_ARG, TOO_LONG, OUT_OF_ORDER, TOO_HARD = VERDICTS


def _crc8_table():
    # CRC-8/SMBUS: poly 0x07, init 0, no reflection, no final xor
    # (avr-libc's _crc8_ccitt_update); check("123456789") == 0xF4.
    table = bytearray(256)
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
        table[i] = crc
    return table


_CRC8 = _crc8_table()


def crc8(data, crc=0):
    """CRC-8/SMBUS of data, continuing from crc."""
    table = _CRC8  # a local: a global is a dict lookup per byte
    for b in data:
        crc = table[crc ^ b]
    return crc


def crc_field(crc):
    """The two uppercase hex digits that carry a CRC on the wire."""
    return b"%02X" % crc


def _crc_of_field(field):
    try:
        return int(bytes(field), 16)
    except ValueError:
        raise ProtoError("CRC field is not hex: %r" % bytes(field))


def job_frames(last, expected, diff):
    """The four writes of one job: L, M, N and O (O carries the difficulty and
    the CRC-8 of all job payload bytes before the CRC field). The hashes are
    40 hex digits each, as bytes."""
    if len(last) != 40 or len(expected) != 40 or not 0 <= diff < 10 ** DIFF_DIGITS:
        raise ValueError("a job is two 40-char hashes and a difficulty of at most 6 digits")
    tail = b",%d," % diff
    crc = crc8(last + expected + tail)  # one call: a call costs as much as a few bytes' loop
    return (b"L" + last[:20], b"M" + last[20:], b"N" + expected[:20],
            b"O" + expected[20:] + tail + b"%02X" % crc)


def difficulty_frame(diff):
    """D with the difficulty, two digits at least (yaum reads exactly two)."""
    return b"D%02d" % diff


def rate_cap_frame(hs):
    """W with the rate cap in H/s (0: none). The slave idles between nonces
    to stay at or under it, from the next job on; every reset restores
    DEFAULT_RATE_CAP, so a master sends it again after state Z."""
    if not 0 <= hs <= MAX_RATE_CAP:
        raise ValueError("the rate cap is 0..9999 H/s")
    return b"W%d" % hs


def address_frame(address):
    """V with two digits: move the slave to address 8..99 (kept in EEPROM)."""
    if not 8 <= address <= 99:
        raise ValueError("slave addresses are 8..99")
    return b"V%02d" % address


def status_state(buf):
    """The state byte of a ducorig status reply; ProtoError if garbled.
    (It runs on every poll: literals, not the named globals, each of which
    would be a dictionary lookup. 0x65 is WIRE_VERSION.)"""
    if len(buf) < 3 or buf[1] != 0x65 or buf[0] not in b"ZILBCNRE" or buf[2] not in b" ?!#>^+":
        raise ProtoError("not a ducorig status: %r" % bytes(buf[:STATUS_LEN]))
    return buf[0]


def protocol_of(buf):
    """"ducorig" or "yaum" from the status read right after A; None if neither."""
    if len(buf) >= STATUS_LEN:
        if buf[1] == WIRE_VERSION:
            return "ducorig"
        if buf[1] == YAUM_WIRE_VERSION:
            return "yaum"
    return None


def parse_result(buf):
    """(state, nonce, elapsed_us) from a result reply; ProtoError if garbled.

    The state is FOUND or NOT_FOUND when a result is held (for NOT_FOUND the
    nonce is the last one tried, 100 * diff); any other state means nothing
    is ready and both numbers are 0."""
    if len(buf) < RESULT_LEN or buf[6] != 44 or buf[17] != 44:  # 44 is ','
        raise ProtoError("not a result reply: %r" % bytes(buf[:RESULT_LEN]))
    if crc8(memoryview(buf)[:18]) != _crc_of_field(buf[18:20]):
        raise ProtoError("result CRC mismatch: %r" % bytes(buf[:RESULT_LEN]))
    if buf[0] not in STATES:
        raise ProtoError("unknown state in result: %r" % bytes(buf[:RESULT_LEN]))
    try:
        return buf[0], int(buf[1:6]), int(buf[7:17])
    except ValueError:
        raise ProtoError("result numbers are not decimal: %r" % bytes(buf[:RESULT_LEN]))


def _check_ducoid(ducoid):
    if len(ducoid) != 22 or ducoid[:6] != b"DUCOID":
        raise ProtoError("not a DUCOID: %r" % bytes(ducoid))
    for c in ducoid[6:]:
        if c not in b"0123456789ABCDEF":
            raise ProtoError("DUCOID is not 16 uppercase hex digits: %r" % bytes(ducoid))
    return ducoid.decode()


def parse_ducoid(buf):
    """The DUCOID string from the reply to I; ProtoError if garbled."""
    if len(buf) < DUCOID_LEN or buf[22] != 44:
        raise ProtoError("not a DUCOID reply: %r" % bytes(buf[:DUCOID_LEN]))
    if crc8(buf[:23]) != _crc_of_field(buf[23:25]):
        raise ProtoError("DUCOID CRC mismatch: %r" % bytes(buf[:DUCOID_LEN]))
    return _check_ducoid(bytes(buf[:22]))


def yaum_job_frames(last, expected, diff):
    """The five writes of a job for a yaum slave: D (difficulty), L, M, N, O
    (O starts hashing). No integrity check exists in that protocol."""
    if not 1 <= diff <= 99:
        raise ValueError("yaum takes a two-digit difficulty")
    return (difficulty_frame(diff), b"L" + last[:20], b"M" + last[20:],
            b"N" + expected[:20], b"O" + expected[20:])


def yaum_number(buf):
    """The number in yaum's 5-char R (nonce) and E (elapsed ms) replies."""
    try:
        return int(bytes(buf[:YAUM_NUMBER_LEN]))
    except ValueError:
        raise ProtoError("not a yaum number: %r" % bytes(buf[:YAUM_NUMBER_LEN]))


def yaum_ducoid(buf):
    """The DUCOID from yaum's reply to I (22 chars, then 2 spaces)."""
    return _check_ducoid(bytes(buf[:YAUM_DUCOID_LEN]))
