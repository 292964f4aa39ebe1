"""Workflow events in, deliveries and timers out: one use case per kind of event. Thin: the
decisions live in domain/ (intents, routing) and the planner."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from uuid import UUID

from katflow_shared import timers
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
from katflow_shared.messaging.emitter import HandlerContext, Writes
from katflow_shared.wakeup import Announcer

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
    (recipients, appointments, staff, course protocols) and to the reminders."""

    planner: Planner
    reminders: Reminders
    dispatching: Announcer  # wakes the dispatchers (this process's in-process while it runs)
    timing: Announcer  # wakes the timer workers, likewise
    rems_form_due_days: RemsFormDueDays  # from the protocol files (bootstrap)

    def plan_contact(self, event: PatientContactUpdated, envelope: Envelope) -> Writes:
        """Contact details and consent, merged into what is on file; deliveries that waited for them
        may go now (the dispatcher is woken)."""
        return Writes([recipients.recipient_row(event)]) + deliveries.woken(self.dispatching)

    def plan_event(self, event: Event, envelope: Envelope) -> Writes:
        """Most workflow events only queue the notifications they call for (and integrator pushes):
        one statement with the inbox row."""
        return deliveries.queued(self._deliveries(event, envelope), self.dispatching)

    def plan_scheduled(self, event: AppointmentScheduled, envelope: Envelope) -> Writes:
        """A new appointment: its notifications, its row in the projection, its reminders."""
        return (
            deliveries.queued(self._deliveries(event, envelope), self.dispatching)
            + Writes([recipients.appointment_row(event)])
            + timers.scheduled(self.reminders.planned(event), self.timing)
        )

    def plan_clinician(self, event: ClinicianUpdated, envelope: Envelope) -> Writes:
        """A clinician added or changed in scheduling: known from now on (a feed, their booked
        sessions' alerts on it), beside what the event calls for (integrator pushes)."""
        return self.plan_event(event, envelope) + Writes([staff.member_row(event)])

    def plan_preparation(self, event: PreparationCompleted, envelope: Envelope) -> Writes:
        """Its notifications, and the course's protocol (the patient page's visit instructions)."""
        return deliveries.queued(self._deliveries(event, envelope), self.dispatching) + Writes(
            [portal.course_protocol_row(event)]
        )

    async def on_event(
        self, event: Event, ctx: HandlerContext, known: Mapping[str, str] | None = None
    ) -> None:
        """An event whose handling reads first: the notifications it calls for, and integrator
        pushes, in its transaction. ``known`` facts (from earlier events) fill what it does not carry.
        The clinician it names (a session's) is looked up in the staff directory."""
        clinician = getattr(event, "clinician_id", None)
        booked = None
        if isinstance(clinician, str):
            booked = await staff.member(ctx.conn, self.planner.staff, clinician)
        new = self._deliveries(event, ctx.envelope, known, booked)
        await deliveries.queue(ctx.conn, new, self.dispatching)

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

    async def on_rescheduled(self, event: AppointmentRescheduled, ctx: HandlerContext) -> None:
        await self.on_event(event, ctx)
        await recipients.upsert_appointment(ctx.conn, event)
        await self.reminders.schedule(ctx.conn, event)

    async def on_appointment_closed(
        self, event: AppointmentCancelled | AppointmentCompleted | AppointmentMissed, ctx: HandlerContext
    ) -> None:
        status = {AppointmentCancelled: "cancelled", AppointmentCompleted: "completed"}.get(
            type(event), "missed"
        )
        known = await recipients.close_appointment(ctx.conn, event.appointment_id, status)
        await self.reminders.cancel(ctx.conn, event.course_id, event.appointment_id, status)
        times = {k: known[k].isoformat() for k in ("starts_at", "ends_at")} if known else {}
        await self.on_event(event, ctx, times)

    async def on_urgent_review(self, event: UrgentReviewRequired, ctx: HandlerContext) -> None:
        await self.reminders.halt_course(ctx.conn, event.course_id)
        await self.on_event(event, ctx)

    async def on_course_completed(self, event: CourseCompleted, ctx: HandlerContext) -> None:
        await self.reminders.schedule_surveys(ctx.conn, event)
        await self.on_event(event, ctx)
