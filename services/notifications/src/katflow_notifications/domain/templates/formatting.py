"""Render facts for people: instants in the recipient's zone and language, clinic details, links."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from .model import RenderEnv

DAYS = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "es": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
}
MONTHS = {
    "en": ("January February March April May June July August September October November December").split(),
    "es": (
        "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre"
    ).split(),
}
CRISIS = {
    "en": (
        "If you are in crisis or thinking about harming yourself, call or text 988 "
        "(Suicide & Crisis Lifeline) or 911 now."
    ),
    "es": (
        "Si está en crisis o piensa en hacerse daño, llame o envíe un mensaje al 988 "
        "(Línea de Prevención del Suicidio y Crisis) o al 911 ahora."
    ),
}
CALENDAR_SUMMARY = {"en": "Clinic appointment", "es": "Cita en la clínica"}
CHECKS = {"blood_pressure": "blood pressure check", "discharge": "discharge assessment"}
NO_DAY = {"en": "none", "es": "ninguno"}
STRETCH_REASONS = {  # CadenceStretched.reason, for staff
    "no_free_day": "no day inside the window could be booked (clinic closed, calendar full, or no "
    "qualified clinician or room free)",
    "booked_after_window": "it was booked after the window had passed (integration held late, or a "
    "missed or cancelled visit)",
    "requested_by_staff": "staff booked it at a time of their choosing",
}

CLINIC_CHANGES = {  # AppointmentDisplaced.cause, for staff
    "closure": "a day the clinic is now closed",
    "time_off": "the clinician's time off",
    "opening_hours": "hours the clinic no longer opens",
    "clinician_changed": "hours or a role the clinician no longer has",
    "room_changed": "a capability the room no longer has",
}


def _lang(locale: str) -> str:
    return locale.split("-")[0] if locale.split("-")[0] in DAYS else "en"


def day_form(day: date, locale: str) -> str:
    """'Tuesday 12 March 2024' / 'martes 12 de marzo de 2024'."""
    lang = _lang(locale)
    weekday, month = DAYS[lang][day.weekday()], MONTHS[lang][day.month - 1]
    if lang == "es":
        return f"{weekday} {day.day} de {month} de {day.year}"
    return f"{weekday} {day.day} {month} {day.year}"


def long_form(instant: datetime, zone: str, locale: str) -> str:
    """'Tuesday 12 March 2024 at 14:30 CDT' / 'martes 12 de marzo de 2024, 14:30 CDT'."""
    t = instant.astimezone(ZoneInfo(zone))
    separator = "," if _lang(locale) == "es" else " at"
    return f"{day_form(t.date(), locale)}{separator} {t:%H:%M} {t.tzname()}"


def short_form(instant: datetime, zone: str, locale: str) -> str:
    """'Tue 12 Mar 14:30 CDT' / 'mar 12 mar 14:30 CDT' (for texts)."""
    t = instant.astimezone(ZoneInfo(zone))
    lang = _lang(locale)
    return f"{DAYS[lang][t.weekday()][:3]} {t.day} {MONTHS[lang][t.month - 1][:3]} {t:%H:%M} {t.tzname()}"


def context(facts: Mapping[str, str], env: RenderEnv) -> dict[str, str]:
    """Facts plus ``<fact>_local``/``<fact>_short`` for every instant, ``<fact>_long`` for every day
    (a calendar day, already the clinic's: no zone applies; empty: none), and the clinic's details."""
    out = dict(facts)
    lang = _lang(env.locale)
    for key, value in facts.items():
        if key.endswith(("_at", "_by")):
            instant = datetime.fromisoformat(value)
            out[f"{key}_local"] = long_form(instant, env.time_zone, env.locale)
            out[f"{key}_short"] = short_form(instant, env.time_zone, env.locale)
        elif key.endswith("_day"):
            out[f"{key}_long"] = day_form(date.fromisoformat(value), env.locale) if value else NO_DAY[lang]
    out.update(
        given_name=env.given_name,
        portal_url=env.portal_url,
        survey_url=f"{env.portal_url}/surveys",
        console_url=env.console_url,
        clinic_phone=env.clinic_phone,
        sender=env.sender,
        crisis=CRISIS[lang],
        calendar_summary=CALENDAR_SUMMARY[lang],
        check_label=CHECKS.get(facts.get("check", ""), facts.get("check", "")),
        reason_label=STRETCH_REASONS.get(facts.get("reason", ""), facts.get("reason", "")),
        cause_label=CLINIC_CHANGES.get(facts.get("cause", ""), facts.get("cause", "")),
    )
    return out
