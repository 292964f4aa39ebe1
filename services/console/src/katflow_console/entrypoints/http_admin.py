"""Clinic administration (admins): clinicians, rooms, opening hours, closures, time off and the
protocol versions on file, each read and changed through scheduling's admin API (``/v1/admin``) with
the person's own access token — except which protocol version new courses get, which is intake's
(it pins a course's version). Scheduling owns every rule: its refusal (``detail[0]``) is shown as a
sentence beside the field, and what a change did to booked appointments (its ``affected``: given to
another clinician, moved, displaced) as a sentence with the appointments listed.

HTML forms only post, so a removal is a POST to ``.../remove``. A change's outcome is rendered as
the answer to its POST (the affected appointments are listed there, nowhere else)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Form, HTTPException, Path, Request
from fastapi.responses import RedirectResponse, Response

from katflow_shared.roles import Role

from ..adapters.services_api import Answer
from ..domain import rules
from ..service_layer.sessions import Staff
from .web import Console, ConsoleDep, StaffDep, page

router = APIRouter(prefix="/admin", tags=["clinic administration (admins)"])
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


def _admin(who: Staff) -> None:
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


def _refused(action: str, field: str, sentence: str) -> dict[str, str]:
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


def _affected(answer: Answer) -> list[dict[str, Any]]:
    rows = answer.body.get("affected", []) if isinstance(answer.body, dict) else []
    out = []
    for a in rows:
        shown = dict(a)
        for key in ("previous_starts_at", "starts_at"):
            shown[key] = datetime.fromisoformat(a[key])
        out.append(shown)
    return out


def _day(day: date) -> str:
    return day.strftime("%a %d %b %Y")


# --- reading the clinic ------------------------------------------------------------------------


async def _clinic(c: Console, who: Staff) -> dict[str, Any]:
    answer = await c.services.call(who.access_token, "GET", "scheduling", "/admin/clinic")
    if answer.status == 403:
        raise HTTPException(403, "clinic administration is for admins")
    if not answer.ok:
        raise HTTPException(502, f"scheduling answered {answer.status}")
    clinic: dict[str, Any] = answer.body
    clinic["closures"] = {date.fromisoformat(d): label for d, label in sorted(clinic["closures"].items())}
    return clinic


async def _render(
    request: Request,
    name: str,
    c: Console,
    who: Staff,
    status: int = 200,
    **context: Any,
) -> Response:
    clinic = await _clinic(c, who)
    context.setdefault("refusal", {})
    context.setdefault("entered", {})
    resp: Response = page(
        request,
        name,
        who,
        clinic=clinic,
        weekdays=WEEKDAYS,
        zone=c.zone,
        booking_roles=BOOKING_ROLES,
        **context,
    )
    resp.status_code = status
    return resp


def _week(form: Any, prefix: str, action: str) -> tuple[dict[str, list[str]], dict[str, str] | None]:
    """The week's hours from the form's ``<prefix><day>_from`` / ``_to`` fields: a day with neither
    time is left out; a day with one of the two is the console's own refusal."""
    week: dict[str, list[str]] = {}
    for day, words in WEEKDAYS:
        start = str(form.get(f"{prefix}{day}_from", "")).strip()
        end = str(form.get(f"{prefix}{day}_to", "")).strip()
        if start and end:
            week[day] = [start, end]
        elif start or end:
            return week, _refused(action, "hours", f"{words}: give both times, or neither.")
    return week, None


def _entered_week(form: Any, prefix: str) -> dict[str, str]:
    return {k: str(v) for k, v in form.items() if k.startswith(prefix)}


# --- the clinic: opening hours and closures ----------------------------------------------------


@router.get("", summary="Clinic administration (admins): to the clinic's page")
async def admin_home(who: StaffDep) -> Response:
    _admin(who)
    return RedirectResponse("/admin/clinic", 303)


@router.get("/clinic", summary="Opening hours and closures (admins)")
async def clinic(request: Request, c: ConsoleDep, who: StaffDep) -> Response:
    _admin(who)
    return await _render(request, "admin_clinic.html", c, who)


@router.post("/opening-hours", summary="Set the weekly opening hours (scheduling's PUT)")
async def opening_hours(request: Request, c: ConsoleDep, who: StaffDep) -> Response:
    _admin(who)
    form = await request.form()
    week, refused = _week(form, "open_", "opening-hours")
    entered = _entered_week(form, "open_")
    if refused:
        return await _render(request, "admin_clinic.html", c, who, 422, refusal=refused, entered=entered)
    body = {"opening_hours": week}
    answer = await c.services.call(who.access_token, "PUT", "scheduling", "/admin/opening-hours", body)
    if not answer.ok:
        refusal = refusal_of(answer, "opening-hours")
        return await _render(
            request, "admin_clinic.html", c, who, answer.status, refusal=refusal, entered=entered
        )
    affected = _affected(answer)
    done = outcome_sentence("Opening hours saved", affected)
    return await _render(request, "admin_clinic.html", c, who, done=done, affected=affected)


@router.post("/closures", summary="Close the clinic on a day (scheduling's POST /closures)")
async def add_closure(
    request: Request,
    c: ConsoleDep,
    who: StaffDep,
    day: Annotated[date, Form()],
    label: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    _admin(who)
    body = {"day": day.isoformat(), "label": label.strip()}
    answer = await c.services.call(who.access_token, "POST", "scheduling", "/admin/closures", body)
    entered = {"closure_day": day.isoformat(), "closure_label": label}
    if not answer.ok:
        refusal = refusal_of(answer, "closure")
        return await _render(
            request, "admin_clinic.html", c, who, answer.status, refusal=refusal, entered=entered
        )
    affected = _affected(answer)
    named = f" ({label.strip()})" if label.strip() else ""
    done = outcome_sentence(f"Closed {_day(day)}{named}", affected)
    return await _render(request, "admin_clinic.html", c, who, done=done, affected=affected)


@router.post("/closures/{day}/remove", summary="Open a closed day again (scheduling's DELETE)")
async def remove_closure(request: Request, day: date, c: ConsoleDep, who: StaffDep) -> Response:
    _admin(who)
    path = f"/admin/closures/{day.isoformat()}"
    answer = await c.services.call(who.access_token, "DELETE", "scheduling", path)
    if not answer.ok:
        refusal = refusal_of(answer, "closure-remove")
        return await _render(request, "admin_clinic.html", c, who, answer.status, refusal=refusal)
    done = f"{_day(day)} is open again (bookings may use it from now on)."
    return await _render(request, "admin_clinic.html", c, who, done=done)


# --- clinicians and their time off -------------------------------------------------------------


@router.get("/clinicians", summary="Clinicians: roles, qualifications, hours, time off (admins)")
async def clinicians(request: Request, c: ConsoleDep, who: StaffDep) -> Response:
    _admin(who)
    return await _render(request, "admin_clinicians.html", c, who)


async def _clinician_page(
    request: Request, clinician_id: str, c: Console, who: Staff, status: int = 200, **context: Any
) -> Response:
    clinic = await _clinic(c, who)
    found = [x for x in clinic["clinicians"] if x["id"] == clinician_id]
    if not found:
        raise HTTPException(404, "no such clinician")
    context.setdefault("refusal", {})
    context.setdefault("entered", {})
    resp: Response = page(
        request,
        "admin_clinician.html",
        who,
        clinic=clinic,
        clinician=found[0],
        weekdays=WEEKDAYS,
        booking_roles=BOOKING_ROLES,
        zone=c.zone,
        **context,
    )
    resp.status_code = status
    return resp


@router.get("/clinicians/{clinician_id}", summary="One clinician: edit, time off (admins)")
async def clinician(request: Request, clinician_id: PathId, c: ConsoleDep, who: StaffDep) -> Response:
    _admin(who)
    return await _clinician_page(request, clinician_id, c, who)


@router.post("/clinicians/{clinician_id}", summary="Change a clinician (scheduling's PUT)")
async def save_clinician(request: Request, clinician_id: PathId, c: ConsoleDep, who: StaffDep) -> Response:
    _admin(who)
    form = await request.form()
    week, refused = _week(form, "hours_", "clinician")
    entered = _entered_week(form, "hours_")
    entered["display_name"] = str(form.get("display_name", ""))
    entered["qualifications"] = str(form.get("qualifications", ""))
    roles = [str(r) for r in form.getlist("roles")]
    entered["roles"] = " ".join(roles)
    if refused:
        return await _clinician_page(request, clinician_id, c, who, 422, refusal=refused, entered=entered)
    qualifications = [q for q in entered["qualifications"].replace(",", " ").split() if q]
    body = {
        "display_name": entered["display_name"].strip(),
        "roles": roles,
        "qualifications": qualifications,
        "hours": week or None,
    }
    path = f"/admin/clinicians/{clinician_id}"
    answer = await c.services.call(who.access_token, "PUT", "scheduling", path, body)
    if not answer.ok:
        refusal = refusal_of(answer, "clinician")
        return await _clinician_page(
            request, clinician_id, c, who, answer.status, refusal=refusal, entered=entered
        )
    affected = _affected(answer)
    done = outcome_sentence(f"{clinician_id} saved", affected)
    return await _clinician_page(request, clinician_id, c, who, done=done, affected=affected)


@router.post("/clinicians/{clinician_id}/time-off", summary="A clinician away for whole days")
async def add_time_off(
    request: Request,
    clinician_id: PathId,
    c: ConsoleDep,
    who: StaffDep,
    first_day: Annotated[date, Form()],
    last_day: Annotated[date, Form()],
) -> Response:
    _admin(who)
    body = {"first_day": first_day.isoformat(), "last_day": last_day.isoformat()}
    path = f"/admin/clinicians/{clinician_id}/time-off"
    answer = await c.services.call(who.access_token, "POST", "scheduling", path, body)
    entered = {"first_day": first_day.isoformat(), "last_day": last_day.isoformat()}
    if not answer.ok:
        refusal = refusal_of(answer, "time-off")
        return await _clinician_page(
            request, clinician_id, c, who, answer.status, refusal=refusal, entered=entered
        )
    affected = _affected(answer)
    days = _day(first_day) if first_day == last_day else f"{_day(first_day)} to {_day(last_day)}"
    done = outcome_sentence(f"Time off added for {clinician_id}, {days}", affected)
    return await _clinician_page(request, clinician_id, c, who, done=done, affected=affected)


@router.post("/clinicians/{clinician_id}/time-off/{time_off_id}/remove", summary="Withdraw time off")
async def remove_time_off(
    request: Request, clinician_id: PathId, time_off_id: UUID, c: ConsoleDep, who: StaffDep
) -> Response:
    _admin(who)
    path = f"/admin/clinicians/{clinician_id}/time-off/{time_off_id}"
    answer = await c.services.call(who.access_token, "DELETE", "scheduling", path)
    if not answer.ok:
        refusal = refusal_of(answer, "time-off-remove")
        return await _clinician_page(request, clinician_id, c, who, answer.status, refusal=refusal)
    done = f"Time off withdrawn: {clinician_id} may be booked on those days again."
    return await _clinician_page(request, clinician_id, c, who, done=done)


# --- rooms -------------------------------------------------------------------------------------


@router.get("/rooms", summary="Rooms and their capabilities (admins)")
async def rooms(request: Request, c: ConsoleDep, who: StaffDep) -> Response:
    _admin(who)
    return await _render(request, "admin_rooms.html", c, who)


async def _put_room(
    request: Request, c: Console, who: Staff, room_id: str, display_name: str, capabilities: str, action: str
) -> Response:
    names = [x for x in capabilities.replace(",", " ").split() if x]
    body = {"display_name": display_name.strip(), "capabilities": names}
    answer = await c.services.call(who.access_token, "PUT", "scheduling", f"/admin/rooms/{room_id}", body)
    entered = {"room_id": room_id, "display_name": display_name, "capabilities": capabilities}
    if not answer.ok:
        refusal = refusal_of(answer, action)
        refusal["room"] = room_id
        return await _render(
            request, "admin_rooms.html", c, who, answer.status, refusal=refusal, entered=entered
        )
    done = f"Room {room_id} {'added' if answer.status == 201 else 'saved'}."
    return await _render(request, "admin_rooms.html", c, who, done=done)


@router.post("/rooms", summary="Add a room (scheduling's PUT; refused here when the id is taken)")
async def add_room(
    request: Request,
    c: ConsoleDep,
    who: StaffDep,
    room_id: Id,
    display_name: Annotated[str, Form(max_length=100)],
    capabilities: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    _admin(who)
    clinic = await _clinic(c, who)
    if any(r["id"] == room_id for r in clinic["rooms"]):
        refusal = _refused("room-add", "room_id", f"There is a room {room_id} already: change it in its row.")
        entered = {"room_id": room_id, "display_name": display_name, "capabilities": capabilities}
        return await _render(request, "admin_rooms.html", c, who, 409, refusal=refusal, entered=entered)
    return await _put_room(request, c, who, room_id, display_name, capabilities, "room-add")


@router.post("/rooms/{room_id}", summary="Change a room (scheduling's PUT)")
async def save_room(
    request: Request,
    room_id: PathId,
    c: ConsoleDep,
    who: StaffDep,
    display_name: Annotated[str, Form(max_length=100)],
    capabilities: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    _admin(who)
    return await _put_room(request, c, who, room_id, display_name, capabilities, "room")


# --- protocol versions -------------------------------------------------------------------------


ProtocolId = Annotated[str, Path(pattern=r"^[a-z0-9_-]{1,30}@[0-9]{1,6}$")]


@router.get("/protocols", summary="The protocol versions on file, and which new courses get (admins)")
async def protocols(request: Request, c: ConsoleDep, who: StaffDep) -> Response:
    _admin(who)
    return await _protocols_page(request, c, who)


@router.post("/protocols/{protocol_id}/activate", summary="Pin new courses of its route to a version")
async def activate(request: Request, protocol_id: ProtocolId, c: ConsoleDep, who: StaffDep) -> Response:
    """Intake pins a course's version at its first eligible decision, so activation is intake's."""
    _admin(who)
    path = f"/admin/protocols/{protocol_id}/activate"
    answer = await c.services.call(who.access_token, "POST", "intake", path)
    if not answer.ok:
        refusal = refusal_of(answer, "activate")["sentence"]
        return await _protocols_page(request, c, who, refusal=refusal, status=answer.status)
    route, before = answer.body["route"], answer.body["previous_version"]
    done = f"New {route} courses now get {protocol_id} (before: {before}); pinned courses keep theirs."
    return await _protocols_page(request, c, who, done=done)


async def _protocols_page(
    request: Request, c: Console, who: Staff, done: str = "", refusal: str | None = None, status: int = 200
) -> Response:
    answer = await c.services.call(who.access_token, "GET", "intake", "/admin/protocols")
    if not answer.ok and refusal is None:
        refusal = refusal_of(answer, "protocols")["sentence"]
    on_file = answer.body if answer.ok else []
    context = {"protocols": on_file, "refusal": refusal, "done": done, "zone": c.zone}
    resp: Response = page(request, "admin_protocols.html", who, **context)
    resp.status_code = status
    return resp


@router.get("/protocols/{protocol_id}", summary="One protocol version, in full (admins)")
async def protocol(
    request: Request,
    protocol_id: ProtocolId,
    c: ConsoleDep,
    who: StaffDep,
) -> Response:
    _admin(who)
    answer = await c.services.call(who.access_token, "GET", "scheduling", f"/admin/protocols/{protocol_id}")
    if answer.status == 404:
        raise HTTPException(404, "no such protocol version")
    if not answer.ok:
        raise HTTPException(502, f"scheduling answered {answer.status}")
    found: dict[str, Any] = answer.body
    text = json.dumps(found["protocol"], indent=2, ensure_ascii=False)
    return page(request, "admin_protocol.html", who, p=found, text=text)  # type: ignore[no-any-return]
