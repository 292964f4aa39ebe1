"""Value types shared by several contracts."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated
from zoneinfo import available_timezones

from pydantic import AfterValidator


class Route(StrEnum):
    IV = "iv"
    IM = "im"
    INTRANASAL = "intranasal"
    ORAL = "oral"


class AppointmentKind(StrEnum):
    CONSULTATION = "consultation"
    PREPARATION = "preparation"
    DOSING = "dosing"
    INTEGRATION = "integration"


class EligibilityOutcome(StrEnum):
    ELIGIBLE = "eligible"
    NOT_ELIGIBLE = "not_eligible"
    CLINICIAN_REVIEW = "clinician_review"


class CancellationReason(StrEnum):
    PATIENT_REQUEST = "patient_request"
    CLINIC_REQUEST = "clinic_request"
    COURSE_HALTED = "course_halted"
    RESCHEDULED = "rescheduled"


class StretchReason(StrEnum):
    """Why a dose was booked after its cadence window (``CadenceStretched``)."""

    NO_FREE_DAY = "no_free_day"  # every day inside the window closed, full or without a clinician/room
    BOOKED_AFTER_WINDOW = "booked_after_window"  # booked too late: integration held late, missed dose
    REQUESTED_BY_STAFF = "requested_by_staff"  # staff booked it at a time of their choosing


class ClinicChange(StrEnum):
    """What took away an appointment's time (AppointmentDisplaced)."""

    CLOSURE = "closure"  # the clinic is closed that day
    TIME_OFF = "time_off"  # the clinician is away that day
    OPENING_HOURS = "opening_hours"  # the clinic no longer opens then
    CLINICIAN_CHANGED = "clinician_changed"  # the clinician no longer has the role or works then
    ROOM_CHANGED = "room_changed"  # the room no longer has a capability the appointment needs


class MonitoringCheck(StrEnum):
    BLOOD_PRESSURE = "blood_pressure"
    DISCHARGE = "discharge"


_ZONES = frozenset(available_timezones())


def _check_zone(value: str) -> str:
    if value not in _ZONES:
        raise ValueError("unknown IANA time zone (for example 'America/Chicago')")  # 422s quote no value
    return value


TimeZoneName = Annotated[str, AfterValidator(_check_zone)]
