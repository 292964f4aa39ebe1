"""intake's admin API: the protocol versions on file and which one new courses are pinned to."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from katflow_shared.auth import Actor, admits
from katflow_shared.roles import Role
from katflow_shared.runtime import UnitsDep

from ..service_layer import protocols
from .deps import BookDep

router = APIRouter(
    prefix="/v1/admin/protocols", tags=["protocols (admin)"], dependencies=[admits(Role.ADMIN)]
)


class ProtocolVersionOut(BaseModel):
    id: str
    route: str
    version: int
    active: bool = Field(description="The version new courses of its route are pinned to now.")


class ActivationOut(BaseModel):
    route: str
    protocol_version: str
    previous_version: str
    activated_at: datetime


@router.get(
    "", response_model=list[ProtocolVersionOut], summary="Protocol versions on file, and which is active"
)
async def versions(units: UnitsDep, book: BookDep) -> list[ProtocolVersionOut]:
    return [
        ProtocolVersionOut.model_validate(v, from_attributes=True)
        for v in await protocols.versions(units, book)
    ]


@router.post(
    "/{protocol_id}/activate",
    response_model=ActivationOut,
    summary="Pin new courses of the version's route to it (emits ProtocolVersionActivated)",
    description="The version must be on file (every file is validated when the service starts). Courses "
    "already pinned (at their first eligible decision) keep their version. 404 for a version not on "
    "file, 409 `already_active`.",
)
async def activate(
    protocol_id: Annotated[str, Path(max_length=40)], units: UnitsDep, book: BookDep, by: Actor
) -> ActivationOut:
    return ActivationOut.model_validate(
        await protocols.activate(units, book, protocol_id, by), from_attributes=True
    )
