"""PHI-minimal wording: terms that must never appear in an SMS body or an email subject."""

from __future__ import annotations

import re

# Drug, route and procedure words, diagnoses and screening scores (clinic-rules.md, Notifications).
FORBIDDEN_TERMS: tuple[str, ...] = (
    "ketamine",
    "esketamine",
    "spravato",
    "infusion",
    "infusions",
    "dosing",
    "dose",
    "doses",
    "psychedelic",
    "depression",
    "depressive",
    "ptsd",
    "anxiety",
    "bipolar",
    "suicidal",
    "suicide",
    "diagnosis",
    "diagnoses",
    "phq-9",
    "phq9",
    "gad-7",
    "gad7",
    "pcl-5",
    "c-ssrs",
    "score",
    "rems",
    "intranasal",
)
_PATTERN = re.compile(
    r"(?<![\w-])(" + "|".join(re.escape(t) for t in FORBIDDEN_TERMS) + r")(?![\w-])", re.IGNORECASE
)


def forbidden_terms(text: str) -> list[str]:
    """The forbidden terms ``text`` contains (lower case, in order of appearance)."""
    return [m.group(1).lower() for m in _PATTERN.finditer(text)]
