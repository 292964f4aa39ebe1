"""What the admin pages share: scheduling's answers in words (a refusal beside its field, what a
change did to booked appointments), the clinic read for a page, and a week's hours from a form."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Form, HTTPException, Path
from fastapi.responses import Response

from katflow_shared.roles import Role

from ..adapters.services_api import Answer
from ..domain import rules
from ..service_layer.sessions import Staff
from .web import Console, Ctx

WEEKDAYS = (
    ("mon", "Monday"),
    ("tue", "Tuesday"),
    ("wed", "Wednesday"),
    ("thu", "Thursday"),
    ("fri", "Friday"),
    ("sat", "Saturday"),
    ("sun", "Sunday"),
)
BOOKING_ROLES = ("consultation", "dosing", "integration")
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$"  # scheduling's clinician and room ids
Id = Annotated[str, Form(pattern=ID_PATTERN)]
PathId = Annotated[str, Path(pattern=ID_PATTERN)]


def require_admin(who: Staff) -> None:
    """The nav shows these pages to admins only; scheduling refuses others too (403)."""
    if not who.holds(Role.ADMIN):
        raise HTTPException(403, "clinic administration is for admins")


# --- what scheduling answered, in words -------------------------------------------------------


def refusal_of(answer: Answer, action: str) -> dict[str, str]:
    """The visit pages' refusal (``Answer.refusal`` and ``rules.sentence``), with the form field it
    concerns: the first named part of ``loc`` (``["body", "qualifications", 0]`` is the
    qualifications field), and pydantic's "Value error, " prefix left out of the sentence."""
    field, rule, message = answer.refusal()
    detail = answer.body.get("detail") if isinstance(answer.body, dict) else None
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        named = [str(p) for p in detail[0].get("loc", []) if isinstance(p, str) and p not in ("body", "path")]
        field = named[0] if named else field
    message = message.removeprefix("Value error, ")
    words = rules.sentence(rule, message) if rule in rules.RULE_WORDS else _sentence(message or rule)
    return {"action": action, "field": field, "rule": rule, "sentence": words}


def _sentence(text: str) -> str:
    text = text.replace("_", " ") if " " not in text else text
    text = text[:1].upper() + text[1:]
    return text if text.endswith(".") else text + "."


def form_refusal(action: str, field: str, sentence: str) -> dict[str, str]:
    """A form the console itself cannot send (e.g. a day with one of its two times)."""
    return {"action": action, "field": field, "rule": "form", "sentence": sentence}


def _n(count: int) -> str:
    return f"{count} appointment" if count == 1 else f"{count} appointments"


def outcome_sentence(what: str, affected: list[dict[str, Any]]) -> str:
    """E.g. "Closed Fri 04 Jun 2027 (holiday): 1 appointment moved to a later time (the patient is
    told), 0 appointments displaced, 0 appointments given to another clinician." """
    counts = Counter(a.get("outcome") for a in affected)
    moved, displaced, reassigned = counts["moved"], counts["displaced"], counts["reassigned"]
    parts = [
        f"{_n(moved)} moved to a later time" + (" (the patient is told)" if moved else ""),
        f"{_n(displaced)} displaced" + (" (left in place, reported to staff)" if displaced else ""),
        f"{_n(reassigned)} given to another clinician at the same time",
    ]
    return f"{what}: {', '.join(parts)}."


def affected_of(answer: Answer) -> list[dict[str, Any]]:
    rows = answer.body.get("affected", []) if isinstance(answer.body, dict) else []
    out = []
    for a in rows:
        shown = dict(a)
        for key in ("previous_starts_at", "starts_at"):
            shown[key] = datetime.fromisoformat(a[key])
        out.append(shown)
    return out


def day_words(day: date) -> str:
    return day.strftime("%a %d %b %Y")


# --- reading the clinic ------------------------------------------------------------------------


async def read_clinic(c: Console, who: Staff) -> dict[str, Any]:
    answer = await c.services.call(who.access_token, "GET", "scheduling", "/admin/clinic")
    if answer.status == 403:
        raise HTTPException(403, "clinic administration is for admins")
    if not answer.ok:
        raise HTTPException(502, f"scheduling answered {answer.status}")
    clinic: dict[str, Any] = answer.body
    clinic["closures"] = {date.fromisoformat(d): label for d, label in sorted(clinic["closures"].items())}
    return clinic


async def render(
    p: Ctx, name: str, status: int = 200, clinic: dict[str, Any] | None = None, **context: Any
) -> Response:
    """An admin page with the clinic (read here unless given), the weekdays and roles its forms
    offer, no refusal and nothing entered unless given."""
    context.setdefault("refusal", {})
    context.setdefault("entered", {})
    resp = p.page(
        name,
        clinic=clinic if clinic is not None else await read_clinic(p.c, p.who),
        weekdays=WEEKDAYS,
        zone=p.c.zone,
        booking_roles=BOOKING_ROLES,
        **context,
    )
    resp.status_code = status
    return resp


def week_of(form: Any, prefix: str, action: str) -> tuple[dict[str, list[str]], dict[str, str] | None]:
    """The week's hours from the form's ``<prefix><day>_from`` / ``_to`` fields: a day with neither
    time is left out; a day with one of the two is the console's own refusal."""
    week: dict[str, list[str]] = {}
    for day, words in WEEKDAYS:
        start = str(form.get(f"{prefix}{day}_from", "")).strip()
        end = str(form.get(f"{prefix}{day}_to", "")).strip()
        if start and end:
            week[day] = [start, end]
        elif start or end:
            return week, form_refusal(action, "hours", f"{words}: give both times, or neither.")
    return week, None


def entered_week(form: Any, prefix: str) -> dict[str, str]:
    return {k: str(v) for k, v in form.items() if k.startswith(prefix)}
