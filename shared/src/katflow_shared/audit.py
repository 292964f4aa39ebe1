"""The audit trail: one append-only ``audit_log`` table per service database (migration 003).

Written three ways, all as ``entry(...)``'s values: through ``record``, or with ``INSERT`` inside
a composed statement:

- every HTTP request that went through ``require_roles`` (admitted or refused) or a signature
  check, by the request middleware once the response status is known (``record_http``);
- inside a handler's own transaction where the write and its record must commit together (the
  public consultation form, outbound messages, events carrying contact details);
- never with PHI: ids, codes and statuses only (names, contact details and notes stay out).

A response that carries several patients' data (a list) names them with ``read(request, ...)``:
the request's record lists them in ``patient_ids`` / ``course_ids``, so "who read patient X" is one
query whether X was a path id or a row of a list. ``GET /v1/audit`` lets an admin query it; that
query is itself audited with what it searched for and which patients its answer named.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from .auth import STATE_ADMITTED, STATE_PRINCIPAL, Principal, admits, system_principal
from .http import PoolDep
from .messaging import context
from .roles import Role

Outcome = Literal["ok", "denied", "rejected", "error"]
ID_PARAMS = ("patient_id", "course_id")

INSERT = (
    "INSERT INTO audit_log (service, actor, role, auth_method, action, patient_id, course_id,"
    " resource, outcome, status, request_id, detail, patient_ids, course_ids)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $12::jsonb, $13::uuid[], $14::uuid[])"
)
# One static statement; absent filters are NULL parameters (no SQL is ever assembled from input).
QUERY = (
    "SELECT id, occurred_at, service, actor, role, auth_method, action, patient_id, course_id,"
    " resource, outcome, status, request_id, detail, patient_ids, course_ids FROM audit_log"
    " WHERE ($1::uuid IS NULL OR patient_id = $1 OR patient_ids @> ARRAY[$1::uuid])"
    " AND ($2::uuid IS NULL OR course_id = $2 OR course_ids @> ARRAY[$2::uuid])"
    " AND ($3::text IS NULL OR actor = $3)"
    " AND ($4::text IS NULL OR action = $4)"
    " AND ($5::text IS NULL OR outcome = $5)"
    " AND ($6::timestamptz IS NULL OR occurred_at >= $6)"
    " AND ($7::timestamptz IS NULL OR occurred_at < $7)"
    " AND ($8::bigint IS NULL OR id < $8)"
    " ORDER BY id DESC LIMIT $9"
)


def entry(
    service: str,
    actor: Principal | None,
    action: str,
    *,
    patient_id: uuid.UUID | None = None,
    course_id: uuid.UUID | None = None,
    resource: Mapping[str, Any] | None = None,
    outcome: Outcome = "ok",
    status: int | None = None,
    detail: Mapping[str, Any] | None = None,
    role: str | None = None,
    request_id: str | None = None,
    patient_ids: Iterable[uuid.UUID] = (),
    course_ids: Iterable[uuid.UUID] = (),
) -> tuple[Any, ...]:
    """The parameters of ``INSERT`` for one audit record; ``actor`` None is the service itself (work
    it did on its own: events handled, messages sent)."""
    actor = actor or system_principal(service)
    return (
        service,
        actor.subject,
        role or actor.role_label(),
        actor.method,
        action,
        patient_id,
        course_id,
        json.dumps(dict(resource or {}), default=str),
        outcome,
        status,
        request_id or context.correlation_id.get(),
        json.dumps(dict(detail or {}), default=str),
        sorted(set(patient_ids)) or None,
        sorted(set(course_ids)) or None,
    )


STATE_READ = "katflow_audit_read"


@dataclass
class Read:
    """What a response carried beyond its path ids, for the request's audit record."""

    patients: set[uuid.UUID] = field(default_factory=set)
    courses: set[uuid.UUID] = field(default_factory=set)
    ids: dict[str, uuid.UUID] = field(default_factory=dict)  # patient_id / course_id a query searched
    detail: dict[str, Any] = field(default_factory=dict)


def read(
    request: Request, patients: Iterable[uuid.UUID | None] = (), courses: Iterable[uuid.UUID | None] = ()
) -> Read:
    """Name the patients and courses a response carries (every row of a list), so its audit record
    says whose data went out. Call it before returning; None entries are skipped."""
    found: Read | None = getattr(request.state, STATE_READ, None)
    if found is None:
        found = Read()
        setattr(request.state, STATE_READ, found)
    found.patients.update(p for p in patients if p is not None)
    found.courses.update(c for c in courses if c is not None)
    return found


async def record(conn: asyncpg.Connection | asyncpg.Pool, values: tuple[Any, ...]) -> None:
    """Append one audit record, ``entry(...)``'s values (inside the caller's transaction when given a
    connection)."""
    await conn.execute(INSERT, *values)


def outcome_of(status: int) -> Outcome:
    if status in (401, 403):
        return "denied"
    if status >= 500:
        return "error"
    return "rejected" if status >= 400 else "ok"


async def record_http(request: Request, status: int) -> None:
    """Audit an authenticated (or refused) request from its route, path ids and response status."""
    principal: Principal | None = getattr(request.state, STATE_PRINCIPAL, None)
    if principal is None:
        return
    admitted: tuple[Role, ...] = getattr(request.state, STATE_ADMITTED, ())
    route = request.scope.get("route")
    path = getattr(route, "path", request.url.path)
    params: dict[str, str] = dict(request.path_params)
    ids = {name: as_uuid(params.pop(name, None)) for name in ID_PARAMS}
    extra: Read = getattr(request.state, STATE_READ, None) or Read()
    ids = {name: ids[name] or extra.ids.get(name) for name in ID_PARAMS}
    runtime = request.app.state.runtime
    await record(
        runtime.pool,
        entry(
            runtime.settings.service_name,
            principal,
            f"{request.method} {path}",
            patient_id=ids["patient_id"],
            course_id=ids["course_id"],
            resource={k: v[:200] for k, v in params.items()},
            outcome=outcome_of(status),
            status=status,
            role=principal.role_label(admitted),
            detail=extra.detail,
            patient_ids=extra.patients,
            course_ids=extra.courses,
        ),
    )


def as_uuid(value: object) -> uuid.UUID | None:
    """``value`` as the id an audit record names: a UUID, or text that is one; else None."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


# --------------------------------------------------------------------------- GET /v1/audit


class AuditRecordOut(BaseModel):
    id: int
    occurred_at: datetime
    service: str
    actor: str = Field(
        description="Who: the credential's subject (a JWT's sub or an API key's name; a staff id for "
        "staff), provider:sms, service:<name> or anonymous:web-form."
    )
    role: str = Field(description="The role the action was admitted under (or the roles held).")
    auth_method: str = Field(description="jwt, api_key, signature, anonymous or system.")
    action: str = Field(description="'METHOD /route/{param}' for HTTP, or a named action.")
    patient_id: uuid.UUID | None
    course_id: uuid.UUID | None
    resource: dict[str, Any] = Field(description="Other ids the action touched (appointment, delivery).")
    outcome: str = Field(description="ok, denied (401/403), rejected (other 4xx) or error.")
    status: int | None = Field(description="HTTP status, when the action was a request.")
    request_id: str | None = Field(description="X-Request-ID / correlation id.")
    detail: dict[str, Any] = Field(description="Non-PHI detail, e.g. channel and template of a message.")
    patient_ids: list[uuid.UUID] = Field(
        default_factory=list,
        description="The patients whose data a list answer carried (besides patient_id).",
    )
    course_ids: list[uuid.UUID] = Field(
        default_factory=list, description="The courses whose data a list answer carried (besides course_id)."
    )


router = APIRouter(prefix="/v1", tags=["audit (admin)"])


@router.get(
    "/audit",
    response_model=list[AuditRecordOut],
    dependencies=[admits(Role.ADMIN)],
    summary="Query this service's audit trail, newest first (admin)",
    description="Page with `before_id` (the smallest id of the previous page). Records are kept at "
    "least 6 years and cannot be changed or deleted. `patient_id` and `course_id` also find the list "
    "answers that carried them (`patient_ids`, `course_ids`). The query is audited: the patient and "
    "course it searched for, its other filters, and the patients its answer named.",
)
async def query_audit(
    request: Request,
    pool: PoolDep,
    patient_id: uuid.UUID | None = None,
    course_id: uuid.UUID | None = None,
    actor: Annotated[str | None, Query(max_length=300)] = None,
    action: Annotated[str | None, Query(max_length=300)] = None,
    outcome: Outcome | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditRecordOut]:
    rows = await pool.fetch(
        QUERY, patient_id, course_id, actor, action, outcome, since, until, before_id, limit
    )
    records = [_out(r) for r in rows]
    searched = read(request, patients=(p for r in records for p in [r.patient_id, *r.patient_ids]))
    searched.ids = {k: v for k, v in (("patient_id", patient_id), ("course_id", course_id)) if v}
    filters = {"actor": actor, "action": action, "outcome": outcome, "since": since, "until": until}
    searched.detail = (
        {"query": {k: v for k, v in filters.items() if v is not None}} if any(filters.values()) else {}
    )
    return records


def _out(row: asyncpg.Record) -> AuditRecordOut:
    values = dict(row)
    for name in ("resource", "detail"):
        values[name] = json.loads(values[name]) if isinstance(values[name], str) else values[name]
    for name in ("patient_ids", "course_ids"):
        values[name] = values[name] or []
    return AuditRecordOut(**values)
