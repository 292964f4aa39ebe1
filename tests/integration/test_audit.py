"""The audit trail on a real PostgreSQL: append-only, written for every authenticated request (and
every refusal), queryable by an admin through GET /v1/audit, which is itself audited."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import APIRouter, FastAPI

from katflow_shared import audit
from katflow_shared.auth import PUBLIC_FORM, admits, system_principal
from katflow_shared.clock import FixedClock
from katflow_shared.messaging import outbox
from katflow_shared.messaging.emitter import Emitter
from katflow_shared.roles import Role, hash_api_key
from katflow_shared.runtime import Runtime, ServiceSpec, create_app
from katflow_shared.wakeup import Announcer
from tests.support.databases import migrated_database
from tests.support.infra import Infra

KEYS = {role: f"kfk_it_{role.value}_{uuid.uuid4().hex}" for role in (Role.ADMIN, Role.CLINICIAN)}


@dataclass
class Audited:
    pool: asyncpg.Pool
    app: FastAPI

    def client(self, role: Role | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {KEYS[role]}"} if role else {}
        transport = httpx.ASGITransport(app=self.app)
        return httpx.AsyncClient(transport=transport, base_url="http://svc", headers=headers)

    async def rows(self) -> list[dict[str, Any]]:
        return [dict(r) for r in await self.pool.fetch("SELECT * FROM audit_log ORDER BY id")]


def patient_router() -> APIRouter:
    """A stand-in for a service route that reads a patient's data."""
    router = APIRouter(prefix="/v1")

    @router.get("/patients/{patient_id}/summary", dependencies=[admits(Role.CLINICIAN)])
    async def summary(patient_id: uuid.UUID) -> dict[str, str]:
        return {"patient_id": str(patient_id)}

    return router


@pytest.fixture
async def svc(infra: Infra) -> AsyncIterator[Audited]:
    async with migrated_database(infra, "audit_it") as db:
        settings = db.settings(
            service_name="auditee",
            api_keys={
                hash_api_key(key): {"name": f"it-{role.value}", "roles": [role.value]}
                for role, key in KEYS.items()
            },
        )
        app = create_app(ServiceSpec(settings=settings, migrations=[], routers=[patient_router()]))
        clock = FixedClock(datetime.now(UTC))
        app.state.runtime = Runtime(
            settings, db.pool, None, Emitter(settings, Announcer(outbox.CHANNEL)), clock
        )
        yield Audited(db.pool, app)


async def test_audit_log_refuses_update_delete_and_truncate(svc: Audited) -> None:
    patient = uuid.uuid4()
    await audit.record(
        svc.pool, audit.entry("intake", PUBLIC_FORM, "consultation_request.create", patient_id=patient)
    )
    for statement in (
        "UPDATE audit_log SET actor = 'someone-else'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await svc.pool.execute(statement)
    [row] = await svc.rows()
    assert (row["actor"], row["role"], row["auth_method"]) == ("anonymous:web-form", "anonymous", "anonymous")
    assert row["patient_id"] == patient and row["outcome"] == "ok" and row["occurred_at"] is not None


async def test_record_joins_the_callers_transaction(svc: Audited) -> None:
    """A write and its audit record commit together, or neither does."""
    async with svc.pool.acquire() as conn:
        with pytest.raises(RuntimeError):
            async with conn.transaction():
                await audit.record(
                    conn, audit.entry("notifications", None, "message.sent", detail={"channel": "sms"})
                )
                raise RuntimeError("the write failed")
    assert await svc.rows() == []


async def test_every_authenticated_request_is_audited_with_who_what_and_outcome(svc: Audited) -> None:
    patient = uuid.uuid4()
    path = f"/v1/patients/{patient}/summary"
    async with svc.client(Role.CLINICIAN) as http:
        ok = await http.get(path, headers={"X-Request-ID": "req-it-1"})
        assert ok.status_code == 200
    async with svc.client(Role.ADMIN) as http:
        assert (await http.get(path)).status_code == 403
    async with svc.client() as http:
        assert (await http.get(path)).status_code == 401  # anonymous noise leaves no record
    allowed, denied = await svc.rows()
    assert allowed["actor"] == "it-clinician" and allowed["role"] == "clinician"
    assert allowed["action"] == "GET /v1/patients/{patient_id}/summary"
    assert (allowed["patient_id"], allowed["outcome"], allowed["status"]) == (patient, "ok", 200)
    assert allowed["request_id"] == "req-it-1" and allowed["service"] == "auditee"
    assert (denied["actor"], denied["outcome"], denied["status"]) == ("it-admin", "denied", 403)


async def test_no_audit_record_no_answer(svc: Audited) -> None:
    """When the audit record cannot be written, the patient's data does not go out: 503, and the
    X-Request-ID still names the request; once the trail takes records again, so does the route."""
    path = f"/v1/patients/{uuid.uuid4()}/summary"
    await svc.pool.execute("ALTER TABLE audit_log ADD CONSTRAINT refuse_all CHECK (false) NOT VALID")
    async with svc.client(Role.CLINICIAN) as http:
        refused = await http.get(path, headers={"X-Request-ID": "req-it-unaudited"})
        assert refused.status_code == 503 and "patient_id" not in refused.text
        assert refused.headers["Retry-After"] == "1"
        assert refused.headers["X-Request-ID"] == "req-it-unaudited"
        await svc.pool.execute("ALTER TABLE audit_log DROP CONSTRAINT refuse_all")
        answered = await http.get(path, headers={"X-Request-ID": "req-it-audited"})
        assert answered.status_code == 200 and answered.headers["X-Request-ID"] == "req-it-audited"
    assert [r["request_id"] for r in await svc.rows()] == ["req-it-audited"]


async def test_admin_queries_the_trail_and_the_query_is_audited(svc: Audited) -> None:
    patient, course = uuid.uuid4(), uuid.uuid4()
    for n in range(5):
        await audit.record(
            svc.pool,
            audit.entry(
                "intake",
                system_principal("intake"),
                f"action.{n}",
                patient_id=patient if n % 2 == 0 else None,
                course_id=course,
            ),
        )
    async with svc.client(Role.CLINICIAN) as http:
        assert (await http.get("/v1/audit")).status_code == 403
    async with svc.client(Role.ADMIN) as http:
        mine = (await http.get("/v1/audit", params={"patient_id": str(patient)})).json()
        assert [r["action"] for r in mine] == ["action.4", "action.2", "action.0"]
        page = (await http.get("/v1/audit", params={"course_id": str(course), "limit": 2})).json()
        rest = (
            await http.get("/v1/audit", params={"course_id": str(course), "before_id": page[-1]["id"]})
        ).json()
        assert [r["action"] for r in page + rest] == [f"action.{n}" for n in (4, 3, 2, 1, 0)]
        denied = (await http.get("/v1/audit", params={"outcome": "denied"})).json()
        assert [(r["actor"], r["action"]) for r in denied] == [("it-clinician", "GET /v1/audit")]
        hostile = (await http.get("/v1/audit", params={"actor": "x' OR '1'='1"})).json()
        assert hostile == []  # parameters, never SQL text
        assert (await http.get("/v1/audit", params={"limit": 5000})).status_code == 422
    reads = [r for r in await svc.rows() if r["action"] == "GET /v1/audit" and r["outcome"] == "ok"]
    assert len(reads) == 5 and {r["actor"] for r in reads} == {"it-admin"}
    assert json.loads(reads[0]["resource"]) == {} and json.loads(reads[0]["detail"]) == {}
