"""Book appointments in reaction to workflow events."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from katflow_shared.clock import Clock
from katflow_shared.contracts import AppointmentScheduled, ConsultationRequested
from katflow_shared.contracts.common import AppointmentKind
from katflow_shared.messaging.emitter import HandlerContext
from katflow_shared.messaging.errors import PermanentError, TransientError

from ..adapters import postgres_appointments as store
from ..domain.clinic import ClinicConfig
from ..domain.slots import first_free_slot
from ..service_layer.booking import arm_no_show

BOOKING_ATTEMPTS = 10


@dataclass(frozen=True)
class Booking:
    clinic: ClinicConfig
    clock: Clock

    async def on_consultation_requested(self, event: ConsultationRequested, ctx: HandlerContext) -> None:
        await store.ensure_course(ctx.conn, event.course_id, event.patient_id, event.patient_time_zone)
        duration = timedelta(minutes=self.clinic.consultation_minutes)
        earliest = self.clock.now() + timedelta(hours=self.clinic.booking_lead_hours)
        clinicians = [c.id for c in self.clinic.clinicians_for("consultation")]
        await store.lock_calendar(ctx.conn)
        for _ in range(BOOKING_ATTEMPTS):
            busy = await store.busy_intervals(ctx.conn, clinicians, earliest)
            slot = first_free_slot(self.clinic, clinicians, busy, earliest, duration, event.patient_time_zone)
            if slot is None:
                raise PermanentError("no consultation slot inside the booking horizon")
            appointment_id = uuid.uuid4()
            try:
                async with ctx.conn.transaction():  # savepoint: a lost race is retried
                    await store.insert_appointment(
                        ctx.conn,
                        appointment_id,
                        event.course_id,
                        AppointmentKind.CONSULTATION,
                        slot,
                        None,
                        ctx.envelope.id,
                    )
            except asyncpg.ExclusionViolationError:
                continue
            grace = self.clinic.no_show_grace_minutes
            await arm_no_show(ctx.conn, event.course_id, appointment_id, slot.start, grace)
            await ctx.emit(
                AppointmentScheduled(
                    appointment_id=appointment_id,
                    course_id=event.course_id,
                    patient_id=event.patient_id,
                    kind=AppointmentKind.CONSULTATION,
                    clinician_id=slot.clinician_id,
                    room_id=None,
                    starts_at=slot.start,
                    ends_at=slot.end,
                    patient_time_zone=event.patient_time_zone,
                )
            )
            return
        raise TransientError("lost the race for a slot too many times")
