"""The staff API's request bodies that only the HTTP edge parses: a preparation step, an urgent
review's resolution. No body names who acts (that is the caller, ``katflow_shared.auth.Actor``); the
rules some of them are checked against are the domain's (``domain.preparation``)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from katflow_shared.bodies import Body, StaffId

from ..domain.screening import Resolution


class ResolveIn(Body):
    """Body of POST /v1/courses/{id}/urgent-review/resolve."""

    decision: Resolution = Field(description="Resume the course, or end it.")


class PreparationSessionIn(Body):
    held_on: date = Field(description="Day the preparation session was held.")
    clinician_id: StaffId = Field(
        description="Clinician or therapist who held it: data, not the actor (a coordinator may record "
        "a session a therapist held); whoever records it is the caller, in the audit trail."
    )


class ConsentIn(Body):
    document_version: str = Field(min_length=1, max_length=64, description="Consent document signed.")
    signed: Literal[True] = Field(description="The patient signed informed consent.")


class IntentionIn(Body):
    """That an intention was recorded; its words stay in the therapy record, never here."""

    recorded: Literal[True]


class BaselineIn(Body):
    phq9: int | None = Field(None, ge=0, le=27)
    gad7: int | None = Field(None, ge=0, le=21)
    pcl5: int | None = Field(None, ge=0, le=80)


class RideHomeIn(Body):
    arranged: Literal[True] = Field(description="A responsible adult will take the patient home.")


class RemsEnrollmentIn(Body):
    enrollment_id: str = Field(min_length=3, max_length=64, description="REMS patient enrolment number.")
