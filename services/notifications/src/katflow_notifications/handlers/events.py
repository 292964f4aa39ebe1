"""Workflow events in, deliveries and timers out. Thin: the decisions live in domain/."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from uuid import UUID

from katflow_shared.contracts import (
    EVENT_TYPES,
    AppointmentCancelled,
    AppointmentCompleted,
    AppointmentMissed,
    AppointmentRescheduled,
    AppointmentScheduled,
    CourseCompleted,
    Event,
    NotificationFailed,
    NotificationSent,
    PatientContactUpdated,
    UrgentReviewRequired,
)
from katflow_shared.messaging.consumer import Handler
from katflow_shared.messaging.emitter import HandlerContext

from ..adapters import postgres_deliveries as deliveries
from ..adapters import postgres_recipients as recipients
from ..domain.intents import intents_for
from ..service_layer.planning import Planner
from ..service_layer.reminders import Reminders


@dataclass(frozen=True)
class EventHandlers:
    planner: Planner
    reminders: Reminders

    async def on_contact_updated(self, event: PatientContactUpdated, ctx: HandlerContext) -> None:
        await recipients.upsert_recipient(ctx.conn, event)

    async def on_event(
        self, event: Event, ctx: HandlerContext, known: Mapping[str, str] | None = None
    ) -> None:
        """Every workflow event: the notifications it calls for, and integrator pushes.
        ``known`` facts (from earlier events) fill what this event does not carry."""
        new = []
        for intent in intents_for(event, ctx.envelope.time):
            if known:
                intent = replace(intent, facts={**known, **intent.facts})
            new += self.planner.deliveries(intent, UUID(ctx.envelope.id))
        await deliveries.queue(ctx.conn, new + self.planner.integrator_pushes(ctx.envelope))

    async def on_appointment_booked(
        self, event: AppointmentScheduled | AppointmentRescheduled, ctx: HandlerContext
    ) -> None:
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

    def mapping(self) -> Mapping[type[Event], Handler]:
        """A handler for every event type of the course except our own."""
        special: dict[type[Event], Handler] = {
            PatientContactUpdated: self.on_contact_updated,
            AppointmentScheduled: self.on_appointment_booked,
            AppointmentRescheduled: self.on_appointment_booked,
            AppointmentCancelled: self.on_appointment_closed,
            AppointmentCompleted: self.on_appointment_closed,
            AppointmentMissed: self.on_appointment_closed,
            UrgentReviewRequired: self.on_urgent_review,
            CourseCompleted: self.on_course_completed,
        }
        own = (NotificationSent, NotificationFailed)
        return {cls: special.get(cls, self.on_event) for cls in EVENT_TYPES if cls not in own}
