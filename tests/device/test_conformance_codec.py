# ducorig.proto, the codec the conformance suite and the slave driver share,
# on both runtimes: the CRC-8 variant, the test vectors of
# docs/i2c-protocol.md, the transfer limits, and garbled replies.
from ducorig import proto

LAST = b"ba29a15896fd2d792d5c4b60668bf2b9feebc51d"  # the official self-test job
EXPECTED = b"d0beba883d7e8cd119ea2b0e09b78f60f29e0968"


def rejects(parse, reply):
    try:
        parse(reply)
    except proto.ProtoError:
        return True
    return False


def test_crc8_is_smbus():
    assert proto.crc8(b"123456789") == 0xF4  # the variant's check value
    assert proto.crc8(b"56789", proto.crc8(b"1234")) == 0xF4  # it continues
    assert proto.crc8(b"") == 0 and proto.crc_field(0x0B) == b"0B"


def test_job_frames_match_the_documented_vector():
    assert proto.job_frames(LAST, EXPECTED, 10) == (
        b"Lba29a15896fd2d792d5c", b"M4b60668bf2b9feebc51d", b"Nd0beba883d7e8cd119ea",
        b"O2b0e09b78f60f29e0968,10,E2")
    assert proto.job_frames(LAST, EXPECTED, 6)[3] == b"O2b0e09b78f60f29e0968,6,86"


def test_a_job_is_four_writes_of_at_most_31_bytes():
    for diff in (1, 6, 655, 999999):
        frames = proto.job_frames(LAST, EXPECTED, diff)
        assert len(frames) == 4 and max(len(f) for f in frames) <= proto.MAX_WRITE < proto.MAX_TRANSFER
    assert len(proto.job_frames(LAST, EXPECTED, 999999)[3]) == 31
    for bad in ((LAST[:39], EXPECTED, 6), (LAST, EXPECTED, 10 ** 6), (LAST, EXPECTED, -1)):
        try:
            proto.job_frames(*bad)
            raise AssertionError("built %r" % (bad,))
        except ValueError:
            pass


def test_result_reply_vectors():
    assert proto.parse_result(b"C00050,0000150000,87") == (proto.FOUND, 50, 150000)
    assert proto.parse_result(b"I00000,0000000000,AE") == (proto.IDLE, 0, 0)
    assert proto.parse_result(bytearray(b"C00050,0000150000,87\xff\xff")) == (proto.FOUND, 50, 150000)


def test_garbled_results_are_rejected():
    for reply in (b"C00051,0000150000,87",  # one digit off: CRC
                  b"C00050,0000150000,8G",  # CRC not hex
                  b"C00050;0000150000,87",  # shape
                  b"C00050,0000150000",  # truncated
                  b"\xff" * 20):  # nobody answered
        assert rejects(proto.parse_result, reply), reply
    text = b"Q00050,0000150000,"  # right CRC, unknown state
    assert rejects(proto.parse_result, text + proto.crc_field(proto.crc8(text)))


def test_status_replies():
    assert proto.status_state(b"Be ") == proto.BUSY
    assert proto.status_state(b"Re^") == proto.REFUSED
    for reply in (b"Bc ", b"Bd ", b"Qe ", b"Be~", b"\x00\x00\x00", b"Be"):  # d: the old wire version, no W
        assert rejects(proto.status_state, reply), reply
    assert proto.protocol_of(b"Ie ") == "ducorig" and proto.WIRE_VERSION == ord("e")
    assert proto.protocol_of(b"Ic ") == "yaum" and proto.YAUM_WIRE_VERSION == ord("c")
    assert proto.protocol_of(b"I? ") is None  # yaum after a command: send A first


def test_ducoid_reply():
    assert proto.parse_ducoid(b"DUCOID5A3F1C0B99124E31,4D") == "DUCOID5A3F1C0B99124E31"
    for reply in (b"DUCOID5A3F1C0B99124E31,4E", b"DUCOID5a3f1c0b99124e31,4D", b"DUCOIX5A3F1C0B99124E31,4D"):
        assert rejects(proto.parse_ducoid, reply), reply


def test_yaum_frames_and_replies():
    assert proto.yaum_job_frames(LAST, EXPECTED, 6) == (
        b"D06", b"Lba29a15896fd2d792d5c", b"M4b60668bf2b9feebc51d", b"Nd0beba883d7e8cd119ea",
        b"O2b0e09b78f60f29e0968")
    assert proto.yaum_number(b"   50") == 50 and proto.yaum_number(b"    0\xff") == 0
    assert rejects(proto.yaum_number, b"\xff" * 5)
    assert proto.yaum_ducoid(b"DUCOID5A3F1C0B99124E31  ") == "DUCOID5A3F1C0B99124E31"


def test_address_and_difficulty_frames():
    assert proto.address_frame(8) == b"V08" and proto.address_frame(99) == b"V99"
    for address in (7, 100):
        try:
            proto.address_frame(address)
            raise AssertionError(address)
        except ValueError:
            pass
    assert proto.difficulty_frame(6) == b"D06" and proto.difficulty_frame(655) == b"D655"


def test_rate_cap_frames():
    assert proto.rate_cap_frame(0) == b"W0" and proto.rate_cap_frame(proto.DEFAULT_RATE_CAP) == b"W370"
    assert proto.rate_cap_frame(9999) == b"W9999"
    for hs in (-1, 10000):
        try:
            proto.rate_cap_frame(hs)
            raise AssertionError(hs)
        except ValueError:
            pass
