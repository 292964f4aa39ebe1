"""scheduling's staff API: visits, changes and manual bookings.

Every rule a request breaks is answered 4xx with ``detail[0].type`` naming the rule, e.g.
``one_dose_per_day``, ``integration_window``, ``double_booking``, ``no_show_grace_period``.
Who acts is the caller (``Actor``, the credential's subject); no body names them.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Request

from katflow_shared import audit, pagination
from katflow_shared.auth import Actor, admits
from katflow_shared.http import PoolDep, staff_action
from katflow_shared.roles import CARE_TEAM, Role
from katflow_shared.runtime import UnitsDep

from ..adapters import postgres_waitlist as waiting
from ..service_layer import changes, course_view, visits
from ..service_layer.changes import Booked, Rescheduled
from ..service_layer.course_view import CourseProgress
from ..service_layer.visits import Administered, Discharged, StatusChanged
from .deps import DepsDep
from .visit_bodies import (
    AdministrationIn,
    AdministrationOut,
    BookedOut,
    BookIn,
    CancelIn,
    CheckInIn,
    CourseOut,
    NoActionBody,
    RescheduledOut,
    RescheduleIn,
    SessionIn,
    SessionOut,
    StatusOut,
    WaitingOut,
)

router = APIRouter(prefix="/v1", tags=["visits and changes (staff)"])
CARE_TEAM_ONLY = [admits(*CARE_TEAM)]
CLINICIAN_ONLY = [admits(Role.CLINICIAN)]


# No fields: `{}` or no body at all; a body naming the actor (`completed_by`, `marked_by`) is a 422.
NoBody = Annotated[NoActionBody | None, Body()]


@router.get(
    "/courses/{course_id}",
    response_model=CourseOut,
    summary="A course's dosing progress, sessions and series plan (planned against booked)",
    dependencies=CARE_TEAM_ONLY,
)
async def course(course_id: UUID, pool: PoolDep, deps: DepsDep) -> CourseProgress:
    return await course_view.progress(pool, deps, course_id)


@router.get(
    "/waitlist",
    response_model=list[WaitingOut],
    summary="Bookings waiting for a slot because the calendar was full, longest waiting first",
    description="A consultation or dose that found no free slot inside the booking horizon "
    "(AppointmentWaitlisted). Scheduling looks again every waitlist_retry_minutes (clinic file) and "
    "books the first slot that opens; add hours or clinicians, or book a dose by hand, to end the wait. "
    "Paginated: `limit` (at most 200) and the `X-Next-Cursor` of the page before as `cursor`.",
    dependencies=CARE_TEAM_ONLY,
    responses=pagination.PAGINATED,
)
async def waitlist(
    pool: PoolDep,
    request: Request,
    response: pagination.PageResponse,
    limit: pagination.Limit = pagination.MAX_LIMIT,
    cursor: pagination.Cursor = None,
) -> list[dict[str, Any]]:
    after = pagination.decode(cursor, _waiting_key)
    rows = [dict(r) for r in await waiting.page(pool, after, limit + 1)]
    shown = pagination.page(
        rows, limit, response, lambda r: (r["waiting_since"], f"{r['course_id']} {r['kind']}")
    )
    audit.read(request, courses=(r["course_id"] for r in shown))  # the audit record names each course
    return shown


def _waiting_key(raw: str) -> tuple[UUID, str]:
    course_id, kind = raw.split(" ")
    return UUID(course_id), kind


@staff_action(
    router,
    "/appointments/{appointment_id}/check-in",
    StatusOut,
    "Check a patient in (dosing: re-checks prerequisites and pre-dose vitals)",
    "Dosing re-checks course_halted, integration_outstanding, one_dose_per_day, dose_spacing, "
    "rems_certified_site, blood_pressure_above_dosing_limit, ride_home_required, fasting_required. Cancels "
    "the no-show timer.",
    who=CARE_TEAM_ONLY,
)
async def check_in(
    appointment_id: UUID, body: CheckInIn, units: UnitsDep, deps: DepsDep, actor: Actor
) -> StatusChanged:
    return await visits.check_in(units, deps, appointment_id, body.dosing, actor)


@staff_action(
    router,
    "/appointments/{appointment_id}/administration",
    AdministrationOut,
    "Record that the dose was given now; monitoring starts",
    "Creates the session record (route, dose, protocol version), holds room and clinician "
    "for the whole monitoring window (monitoring_window_not_reserved) and arms the monitoring prompts "
    "(MonitoringCheckDue, e.g. +40 min blood pressure, discharge check).",
    who=CLINICIAN_ONLY,
)
async def administer(
    appointment_id: UUID, body: AdministrationIn, units: UnitsDep, deps: DepsDep, actor: Actor
) -> Administered:
    return await visits.administer(units, deps, appointment_id, body, actor)


@staff_action(
    router,
    "/appointments/{appointment_id}/session",
    SessionOut,
    "Discharge: close monitoring and record the session (emits SessionAdministered)",
    "Vitals summary and adverse events as numbers and codes; never therapy notes. Refused before "
    "the protocol's least monitoring (minimum_monitoring), without a passed discharge assessment or without "
    "the post-dose blood pressure. Emits SessionAdministered and AppointmentCompleted; scheduling then arms "
    "IntegrationDue/IntegrationOverdue and books the integration inside its window.",
    who=CLINICIAN_ONLY,
)
async def session(
    appointment_id: UUID, body: SessionIn, units: UnitsDep, deps: DepsDep, actor: Actor
) -> Discharged:
    return await visits.record_session(units, deps, appointment_id, body, actor)


@staff_action(
    router,
    "/appointments/{appointment_id}/complete",
    StatusOut,
    "Mark a consultation or integration appointment attended (emits AppointmentCompleted)",
    "An integration completes the dose's integration (cancels IntegrationOverdue); the next dose "
    "or CourseCompleted follows on its own.",
    who=CARE_TEAM_ONLY,
)
async def complete(appointment_id: UUID, units: UnitsDep, actor: Actor, body: NoBody = None) -> StatusChanged:
    return await visits.complete(units, appointment_id, actor)


@staff_action(
    router,
    "/appointments/{appointment_id}/cancel",
    StatusOut,
    "Cancel an appointment (emits AppointmentCancelled; frees room and clinician; drops its timers)",
    who=CARE_TEAM_ONLY,
)
async def cancel(appointment_id: UUID, body: CancelIn, units: UnitsDep, actor: Actor) -> StatusChanged:
    return await changes.cancel(units, appointment_id, body.reason, actor)


@staff_action(
    router,
    "/appointments/{appointment_id}/reschedule",
    RescheduledOut,
    "Move an appointment (emits AppointmentRescheduled; moves its no-show timer)",
    "Keeps clinician and room when free, else picks free qualified ones (double_booking "
    "when none). Dosing keeps the cadence (one_dose_per_day, dose_spacing); integration stays in its window "
    "(integration_window).",
    who=CARE_TEAM_ONLY,
)
async def reschedule(appointment_id: UUID, body: RescheduleIn, units: UnitsDep, deps: DepsDep) -> Rescheduled:
    return await changes.reschedule(units, deps, appointment_id, body.starts_at)


@staff_action(
    router,
    "/appointments/{appointment_id}/no-show",
    StatusOut,
    "Mark a no-show after the protocol's grace period (emits AppointmentMissed)",
    "Refused inside the grace period (no_show_grace_period). A durable timer also marks "
    "it on its own when nobody checked in by then.",
    who=CARE_TEAM_ONLY,
)
async def no_show(
    appointment_id: UUID, units: UnitsDep, deps: DepsDep, actor: Actor, body: NoBody = None
) -> StatusChanged:
    return await changes.no_show(units, deps, appointment_id, actor)


@staff_action(
    router,
    "/courses/{course_id}/dosing-appointments",
    BookedOut,
    "Book the course's next dose (after a cancellation, a no-show or a halt)",
    "At starts_at, or the first free slot the cadence allows. Refused when halted "
    "(course_halted), a dose is open (dose_already_booked), all doses are given "
    "(course_doses_exhausted), an integration is outstanding (integration_outstanding) or the "
    "cadence is broken.",
    status_code=201,
    who=CARE_TEAM_ONLY,
)
async def book_dose(course_id: UUID, body: BookIn, units: UnitsDep, deps: DepsDep) -> Booked:
    return await changes.book_dose(units, deps, course_id, body.starts_at)


@staff_action(
    router,
    "/courses/{course_id}/integration-appointments",
    BookedOut,
    "Book the integration session of the latest dose without one",
    "Inside the integration window (integration_window); after the window closed, a catch-up at any time.",
    status_code=201,
    who=CARE_TEAM_ONLY,
)
async def book_integration(course_id: UUID, body: BookIn, units: UnitsDep, deps: DepsDep) -> Booked:
    return await changes.book_integration(units, deps, course_id, body.starts_at)
