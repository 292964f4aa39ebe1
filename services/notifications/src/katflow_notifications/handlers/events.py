"""Turn workflow events into queued deliveries (sent later by the dispatcher)."""

from __future__ import annotations

from dataclasses import dataclass

from katflow_shared.contracts import (
    AppointmentScheduled,
    ConsultationRequested,
    PatientContactUpdated,
)
from katflow_shared.messaging.emitter import HandlerContext

from ..adapters import postgres_deliveries as store
from ..domain.staff import StaffDirectory
from ..domain.templates import TEMPLATES


@dataclass(frozen=True)
class EventHandlers:
    staff: StaffDirectory

    async def on_contact_updated(self, event: PatientContactUpdated, ctx: HandlerContext) -> None:
        await store.upsert_recipient(ctx.conn, event)

    async def on_consultation_requested(self, event: ConsultationRequested, ctx: HandlerContext) -> None:
        facts = {
            "course_id": str(event.course_id),
            "consultation_request_id": str(event.consultation_request_id),
        }
        await store.queue(
            ctx.conn,
            event_id=ctx.envelope.id,
            template=TEMPLATES["consultation_ack"],
            channel="email",
            context=facts,
            course_id=event.course_id,
            patient_id=event.patient_id,
        )
        for member in self.staff.recipients("new_consultation_request"):
            await store.queue(
                ctx.conn,
                event_id=ctx.envelope.id,
                template=TEMPLATES["new_consultation_request"],
                channel="email",
                context=facts,
                course_id=event.course_id,
                staff_id=member.id,
            )

    async def on_appointment_scheduled(self, event: AppointmentScheduled, ctx: HandlerContext) -> None:
        facts = {
            "appointment_id": str(event.appointment_id),
            "starts_at": event.starts_at.isoformat(),
            "ends_at": event.ends_at.isoformat(),
            "created_at": ctx.envelope.time.isoformat(),
            "kind": event.kind.value,
        }
        await store.queue(
            ctx.conn,
            event_id=ctx.envelope.id,
            template=TEMPLATES["booking_confirmation"],
            channel="email",
            context=facts,
            course_id=event.course_id,
            patient_id=event.patient_id,
        )
