"""Workflow events in, deliveries and timers out: one use case per kind of event, each run by the
consumer in the event's unit of work (``uow``: its writes go with the event's inbox row). Thin: the
decisions live in domain/ (intents, routing) and the planner."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from uuid import UUID

from katflow_shared.contracts import (
    AppointmentCancelled,
    AppointmentCompleted,
    AppointmentMissed,
    AppointmentRescheduled,
    AppointmentScheduled,
    ClinicianUpdated,
    CourseCompleted,
    Event,
    PatientContactUpdated,
    PreparationCompleted,
    UrgentReviewRequired,
)
from katflow_shared.messaging.cloudevents import Envelope
from katflow_shared.unit_of_work import UnitOfWork

from ..adapters import postgres_portal as portal
from ..adapters import postgres_queue as deliveries
from ..adapters import postgres_recipients as recipients
from ..adapters import postgres_staff as staff
from ..domain.deliveries import NewDelivery
from ..domain.intents import RemsFormDueDays, intents_for
from ..domain.staff import Member
from .planning import Planner
from .reminders import Reminders


@dataclass(frozen=True)
class WorkflowEvents:
    """The use cases of the workflow events notifications consumes (``entrypoints.consumer`` maps each
    event type to one): the deliveries an event calls for, with what it adds to the projections
    (recipients, appointments, staff, course protocols) and to the reminders. Those that only write
    (and read nothing they must lock) run as one statement with the inbox row; the others in a
    transaction."""

    planner: Planner
    reminders: Reminders
    rems_form_due_days: RemsFormDueDays  # from the protocol files (bootstrap)

    # ---------------------------------------------------------------- write only (one statement)

    async def on_event(self, event: Event, uow: UnitOfWork) -> None:
        """Most workflow events only queue the notifications they call for (and integrator pushes).
        The clinician an event names (a session's) is looked up in the staff directory first."""
        await self._queue(event, uow, booked=await self._booked(event, uow))

    async def on_contact(self, event: PatientContactUpdated, uow: UnitOfWork) -> None:
        """Contact details and consent, merged into what is on file; deliveries that waited for them
        may go now (the dispatcher is woken)."""
        uow.write([recipients.recipient_row(event)])
        uow.write(deliveries.woken(self.planner.dispatching))

    async def on_scheduled(self, event: AppointmentScheduled, uow: UnitOfWork) -> None:
        """A new appointment: its notifications, its row in the projection, its reminders."""
        await self._queue(event, uow)
        uow.write([recipients.appointment_row(event)])
        uow.schedule(self.reminders.planned(event))

    async def on_clinician(self, event: ClinicianUpdated, uow: UnitOfWork) -> None:
        """A clinician added or changed in scheduling: known from now on (a feed, their booked
        sessions' alerts on it), beside what the event calls for (integrator pushes)."""
        await self._queue(event, uow)
        uow.write([staff.member_row(event)])

    async def on_preparation(self, event: PreparationCompleted, uow: UnitOfWork) -> None:
        """Its notifications, and the course's protocol (the patient page's visit instructions)."""
        await self._queue(event, uow)
        uow.write([portal.course_protocol_row(event)])

    # ---------------------------------------------------------------- in a transaction

    async def on_rescheduled(self, event: AppointmentRescheduled, uow: UnitOfWork) -> None:
        """The appointment moved: its earlier reminders cancelled, the new ones planned."""
        await self.reminders.cancel(uow.conn, event.course_id, event.appointment_id, "rescheduled")
        await self.on_event(event, uow)
        uow.write([recipients.appointment_row(event)])
        uow.schedule(self.reminders.planned(event))

    async def on_appointment_closed(
        self, event: AppointmentCancelled | AppointmentCompleted | AppointmentMissed, uow: UnitOfWork
    ) -> None:
        status = {AppointmentCancelled: "cancelled", AppointmentCompleted: "completed"}.get(
            type(event), "missed"
        )
        known = await recipients.close_appointment(uow.conn, event.appointment_id, status)
        await self.reminders.cancel(uow.conn, event.course_id, event.appointment_id, status)
        times = {k: known[k].isoformat() for k in ("starts_at", "ends_at")} if known else {}
        await self._queue(event, uow, times, await self._booked(event, uow))

    async def on_urgent_review(self, event: UrgentReviewRequired, uow: UnitOfWork) -> None:
        await self.reminders.halt_course(uow.conn, event.course_id)
        await self.on_event(event, uow)

    async def on_course_completed(self, event: CourseCompleted, uow: UnitOfWork) -> None:
        await self.reminders.schedule_surveys(uow, event)
        await self.on_event(event, uow)

    # ---------------------------------------------------------------- the deliveries

    async def _booked(self, event: Event, uow: UnitOfWork) -> Member | None:
        clinician = getattr(event, "clinician_id", None)
        return (
            await staff.member(uow.conn, self.planner.staff, clinician)
            if isinstance(clinician, str)
            else None
        )

    async def _queue(
        self,
        event: Event,
        uow: UnitOfWork,
        known: Mapping[str, str] | None = None,
        booked: Member | None = None,
    ) -> None:
        """The notifications ``event`` calls for, and integrator pushes, with the unit's writes.
        ``known`` facts (from earlier events) fill what it does not carry."""
        if uow.cause is None:
            raise RuntimeError("a workflow event's use case runs in the event's unit of work")
        uow.write(self.planner.queued(self._deliveries(event, uow.cause, known, booked)))

    def _deliveries(
        self,
        event: Event,
        envelope: Envelope,
        known: Mapping[str, str] | None = None,
        booked: Member | None = None,
    ) -> list[NewDelivery]:
        new = []
        for intent in intents_for(event, envelope.time, self.rems_form_due_days):
            if known:
                intent = replace(intent, facts={**known, **intent.facts})
            new += self.planner.deliveries(intent, UUID(envelope.id), booked=booked)
        return new + self.planner.integrator_pushes(envelope)
