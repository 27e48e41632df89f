# DUCO-S1: find the nonce n in 0..100*diff (inclusive) such that
# sha1(last_hash + str(n)) == expected_hash (revoxhere/duino-coin Arduino_Code.ino).
import hashlib
from binascii import unhexlify


def solve(last_hash, expected_hash, diff):
    """Return the nonce as an int, or None when no nonce in range matches.

    last_hash and expected_hash are 40 hex digits (str or bytes), diff an int.
    """
    prefix = last_hash if isinstance(last_hash, bytes) else last_hash.encode()
    target = unhexlify(expected_hash)
    base = hashlib.sha1(prefix)
    if hasattr(base, "copy"):
        # CPython: the 40-byte prefix is fed once, each nonce only adds digits.
        for nonce in range(100 * diff + 1):
            h = base.copy()
            h.update(str(nonce).encode())
            if h.digest() == target:
                return nonce
        return None
    # MicroPython's hashlib has no copy(): hash the whole message each time.
    for nonce in range(100 * diff + 1):
        if hashlib.sha1(prefix + str(nonce).encode()).digest() == target:
            return nonce
    return None


def hashrate(nonce, elapsed_us):
    """Hashes per second: nonce + 1 hashes were tried in elapsed_us."""
    if elapsed_us <= 0:
        return 0.0
    return (nonce + 1) * 1000000 / elapsed_us
