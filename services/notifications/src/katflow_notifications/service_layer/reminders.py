"""Reminders and surveys as durable timers (katflow_shared.timers), keyed by course and
appointment so a reschedule or cancellation cancels them and a new plan replaces them. New timers go
with the unit of work's writes (``uow.schedule``); a fired one queues its message on the timer
worker's unit."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

import asyncpg

from katflow_shared import timers
from katflow_shared.clock import Clock
from katflow_shared.contracts import AppointmentRescheduled, AppointmentScheduled, CourseCompleted
from katflow_shared.timers import OnTimer, Timer
from katflow_shared.unit_of_work import UnitOfWork

from ..adapters import postgres_outcomes as store
from ..adapters import postgres_recipients as recipients
from ..domain.catalogue import REMINDERS
from ..domain.intents import reminder_intent, survey_intent
from ..domain.quiet_hours import QuietHours
from ..domain.reminders import ReminderPolicy, plan_reminders, plan_surveys
from .planning import Planner

REMINDER_TIMER = "notifications.reminder"
SURVEY_TIMER = "notifications.survey"
TIMER_EVENTS = uuid.UUID("6d1c1a53-93a4-4c38-9a43-8f0d1c4e2b7a")  # namespace of timer-made event ids


def reminder_prefix(course_id: UUID, appointment_id: UUID | None = None) -> str:
    return f"reminder:{course_id}:" + (f"{appointment_id}:" if appointment_id else "")


@dataclass(frozen=True)
class Reminders:
    policy: ReminderPolicy
    survey_offsets: Sequence[timedelta]
    quiet: QuietHours
    default_zone: str
    planner: Planner
    clock: Clock

    def planned(self, e: AppointmentScheduled | AppointmentRescheduled) -> timers.Wanted:
        """The appointment's reminder timers (kind, key, due time, payload)."""
        reminders = plan_reminders(e.starts_at, e.kind, e.patient_time_zone, self.clock.now(), self.policy)
        payload = {
            "course_id": str(e.course_id),
            "patient_id": str(e.patient_id),
            "appointment_id": str(e.appointment_id),
            "kind": e.kind.value,
            "starts_at": e.starts_at.isoformat(),
            "ends_at": e.ends_at.isoformat(),
        }
        key = reminder_prefix(e.course_id, e.appointment_id)
        return [
            (REMINDER_TIMER, key + r.notification, r.due_at, {"notification": r.notification, **payload})
            for r in reminders
        ]

    async def cancel(
        self, conn: asyncpg.Connection, course_id: UUID, appointment_id: UUID, reason: str
    ) -> None:
        await timers.cancel(conn, reminder_prefix(course_id, appointment_id), REMINDER_TIMER)
        await store.cancel_queued(conn, appointment_id, REMINDERS, reason)

    async def halt_course(self, conn: asyncpg.Connection, course_id: UUID) -> None:
        """Urgent review: every automated patient message of the course stops."""
        await timers.cancel(conn, reminder_prefix(course_id), REMINDER_TIMER)
        await timers.cancel(conn, f"survey:{course_id}:", SURVEY_TIMER)
        await store.cancel_automated_for_course(conn, course_id, "course_halted")

    async def schedule_surveys(self, uow: UnitOfWork, e: CourseCompleted) -> None:
        """The course's follow-up surveys, in the patient's time zone (one statement with the unit's
        other writes)."""
        zone = await recipients.time_zone_of(uow.conn, e.patient_id) or self.default_zone
        payload = {"course_id": str(e.course_id), "patient_id": str(e.patient_id)}
        uow.schedule(
            [
                (SURVEY_TIMER, f"survey:{e.course_id}:{n}", due, {**payload, "survey_number": str(n)})
                for n, due in plan_surveys(e.completed_at, self.survey_offsets, zone, self.quiet)
            ]
        )

    async def fire_reminder(self, timer: Timer, uow: UnitOfWork) -> None:
        event_id = uuid.uuid5(TIMER_EVENTS, f"{timer.key}@{timer.payload['starts_at']}")
        self.planner.plan(uow, reminder_intent(timer.payload), event_id)

    async def fire_survey(self, timer: Timer, uow: UnitOfWork) -> None:
        event_id = uuid.uuid5(TIMER_EVENTS, timer.key)
        self.planner.plan(uow, survey_intent(timer.payload), event_id)

    def timer_handlers(self) -> dict[str, OnTimer]:
        return {REMINDER_TIMER: self.fire_reminder, SURVEY_TIMER: self.fire_survey}
