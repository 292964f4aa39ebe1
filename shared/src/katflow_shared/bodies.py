"""What every service's request bodies are built from: a strict, immutable model and the staff id.

A body refuses a field it does not declare (422): no body can name who acts, which is the caller
(``katflow_shared.auth.Actor``); one that tries (``administered_by``, ``screened_by``, ...) is
refused. Pure pydantic: the domain's records that sit inside a body use it too.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

# A staff member named as data (who held a session), never as the actor.
StaffId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class Body(BaseModel):
    """A request body, or a record inside one: unknown fields are refused, and it is frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)
