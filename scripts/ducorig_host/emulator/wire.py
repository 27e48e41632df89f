"""How the Node.js pool turns socket bytes into fields and numbers.

These mirror Node's "ascii" decoding, String.trim() and JavaScript's
parseFloat/parseInt, so malformed input is judged exactly as on the pool.
"""
from __future__ import annotations

import math
import re

# Node's "ascii" decoder clears the high bit of every byte.
_ASCII7 = bytes(i & 0x7F for i in range(256))
# JS trim() whitespace within 7-bit ASCII (Python's strip() also eats \x1c-\x1f).
_JS_SPACE = " \t\n\v\f\r"
_FLOAT = re.compile(r"[+-]?(?:Infinity|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)")
_INT = re.compile(r"([+-]?)(?:0[xX]([0-9a-fA-F]+)|(\d+))")
_NAME_RUNS = re.compile(r"[A-Za-z0-9 .()-]+")
_IOT_CHARS = re.compile(r"[A-Za-z0-9 .():@-]+")
IOT_MAX_LEN = 48
# Longer digit runs overflow a double (and Python refuses to convert them).
JS_MAX_DIGITS = 300


def decode(chunk: bytes) -> str:
    return chunk.translate(_ASCII7).decode("ascii")


def split_message(message: str) -> list[str]:
    """One data event -> fields: trim, then split on commas (no line framing)."""
    return message.strip(_JS_SPACE).split(",")


def field(fields: list[str], index: int) -> str | None:
    """fields[index], or None where JavaScript would see undefined."""
    return fields[index] if index < len(fields) else None


def js_parse_float(text: str | None) -> float:
    """parseFloat: the longest numeric prefix after leading spaces, else NaN."""
    match = _FLOAT.match(text.lstrip(_JS_SPACE)) if text is not None else None
    if match is None:
        return math.nan
    return float(match.group().replace("Infinity", "inf"))


def js_parse_int(text: str | None) -> int | None:
    """parseInt without a radix (so a 0x prefix means hex); None stands for NaN."""
    match = _INT.match(text.lstrip(_JS_SPACE)) if text is not None else None
    if match is None:
        return None
    sign, hex_digits, dec_digits = match.groups()
    if len(hex_digits or dec_digits) > JS_MAX_DIGITS:
        return None  # JS gives Infinity: never a nonce, and null in JSON
    value = int(hex_digits, 16) if hex_digits else int(dec_digits)
    return -value if sign == "-" else value


def sanitize_name(text: str | None) -> str | None:
    """Runs of [A-Za-z0-9 .()-] joined by spaces; None when nothing matches
    (where mining.js throws and keeps its previous value)."""
    runs = _NAME_RUNS.findall(text) if text else []
    return " ".join(runs) if runs else None


def iot_reading(text: str | None) -> str | None:
    """Optional job request field 4, checked as mining.js does (unanchored)."""
    if not text:
        return None
    if not _IOT_CHARS.search(text):
        return "Error:incorrect data"
    if len(text) > IOT_MAX_LEN:
        return "Error:data too long"
    return text
