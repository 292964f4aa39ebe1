"""Durable timer kinds and keys. Keys nest course → appointment/session, so one prefix cancels all
of an appointment's timers, or all of a course's."""

from __future__ import annotations

from uuid import UUID

NO_SHOW = "no_show"
MONITORING_CHECK = "monitoring_check"
INTEGRATION_DUE = "integration_due"
INTEGRATION_OVERDUE = "integration_overdue"
BOOKING_RETRY = "booking_retry"
KINDS = (NO_SHOW, MONITORING_CHECK, INTEGRATION_DUE, INTEGRATION_OVERDUE, BOOKING_RETRY)


def course(course_id: UUID) -> str:
    return f"course:{course_id}:"


def appointment(course_id: UUID, appointment_id: UUID) -> str:
    return f"{course(course_id)}appt:{appointment_id}:"


def session(course_id: UUID, session_id: UUID) -> str:
    return f"{course(course_id)}session:{session_id}:"


def waitlist(course_id: UUID, look: int) -> str:
    """A waitlisted booking's ``look``-th look; each has its own key (a firing timer is still
    pending, and scheduling its own key again would move it instead of arming the next)."""
    return f"{waitlist_prefix(course_id)}{look}"


def waitlist_prefix(course_id: UUID) -> str:
    return f"{course(course_id)}waitlist:"
