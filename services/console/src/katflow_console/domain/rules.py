"""A service's refusal (its rule's name and message) as a sentence staff read beside the field."""

from __future__ import annotations

RULE_WORDS = {
    "blood_pressure_above_dosing_limit": "Blood pressure is too high to dose",
    "ride_home_required": "No dose without a confirmed ride home",
    "fasting_required": "No dose unless the patient followed the fasting instruction",
    "rems_certified_site": "This site is not REMS-certified for this medication",
    "course_halted": "The course is halted for urgent review",
    "integration_outstanding": "The previous dose's integration session has not happened yet",
    "one_dose_per_day": "The patient already had a dose today",
    "dose_spacing": "Too soon after the previous dose",
    "minimum_monitoring": "Monitoring has not lasted the protocol's minimum yet",
    "forbidden": "Your role may not do this",
    "http_403": "Your role may not do this",
}


def sentence(rule: str, message: str) -> str:
    """E.g. "Blood pressure is too high to dose: at or above 140/90 (intranasal@1)."."""
    words = RULE_WORDS.get(rule) or rule.replace("_", " ").capitalize()
    text = f"{words}: {message}" if message and message != words else words
    return text if text.endswith(".") else text + "."
