"""Inbound SMS keywords (CTIA/TCPA): opt-out, opt-in, help. The whole message is the keyword."""

from __future__ import annotations

import re
from enum import StrEnum


class Keyword(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    OTHER = "other"


OPT_OUT_WORDS = frozenset(
    {"STOP", "STOPALL", "QUIT", "END", "REVOKE", "OPT OUT", "OPTOUT", "CANCEL", "UNSUBSCRIBE"}
)
OPT_IN_WORDS = frozenset({"START", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})


def normalise(text: str) -> str:
    """Upper case, punctuation dropped, whitespace collapsed: ' stop! ' → 'STOP'."""
    letters = re.sub(r"[^\w\s]", " ", text.upper())
    return " ".join(letters.split())


def classify(text: str) -> Keyword:
    word = normalise(text)
    if word in OPT_OUT_WORDS:
        return Keyword.OPT_OUT
    if word in OPT_IN_WORDS:
        return Keyword.OPT_IN
    if word in HELP_WORDS:
        return Keyword.HELP
    return Keyword.OTHER
