"""SMS length: one segment only (160 GSM-7 characters, or 70 when any character needs UCS-2)."""

from __future__ import annotations

import unicodedata

SINGLE_SEGMENT_GSM7 = 160
SINGLE_SEGMENT_UCS2 = 70

_GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = set("^{}\\[~]|€")  # each costs two septets


def is_gsm7(text: str) -> bool:
    return all(c in _GSM7_BASIC or c in _GSM7_EXTENDED for c in text)


def sms_units(text: str) -> int:
    """Characters as a single-segment budget counts them (extended GSM-7 characters count twice)."""
    if is_gsm7(text):
        return sum(2 if c in _GSM7_EXTENDED else 1 for c in text)
    return len(text)


def sms_limit(text: str) -> int:
    return SINGLE_SEGMENT_GSM7 if is_gsm7(text) else SINGLE_SEGMENT_UCS2


def fits_one_sms(text: str, max_chars: int = SINGLE_SEGMENT_GSM7) -> bool:
    return len(text) <= max_chars and sms_units(text) <= sms_limit(text)


_REPLACEMENTS = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u2013": "-",
    "\u2014": "-",
    "\u2026": "...",
    "\u00a0": " ",
}


def to_gsm7(text: str) -> str:
    """Fold characters GSM-7 lacks to their closest GSM-7 form ('á' → 'a', '’' → "'") so a text
    keeps the 160-character budget; characters with no such form are kept (and cost UCS-2)."""
    out = []
    for char in text:
        if char in _GSM7_BASIC or char in _GSM7_EXTENDED:
            out.append(char)
            continue
        char = _REPLACEMENTS.get(char, char)
        base = unicodedata.normalize("NFKD", char)[:1]
        out.append(base if base and (base in _GSM7_BASIC) else char)
    return "".join(out)
