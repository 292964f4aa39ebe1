"""The audit table belongs to a migration role the running service does not hold (issue 27: each
service owned its audit table, so its role could disable the append-only triggers). Real PostgreSQL,
two fresh login roles: the owner migrates, the service may insert and read the trail, never alter it,
drop it, disable its triggers, update, delete or truncate it; its other tables work as before."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from katflow_shared import audit
from katflow_shared.auth import system_principal
from katflow_shared.db import create_pool, prepare_schema
from katflow_shared.settings import ServiceSettings
from katflow_tools.databases import scratch_database
from tests.support.infra import Infra

PACKAGES = ["katflow_shared", "katflow_notifications"]


@dataclass
class Roles:
    owner_dsn: str
    service_dsn: str


def as_role(dsn: str, role: str, password: str) -> str:
    parts = urlsplit(dsn)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{role}:{password}@{host}"))


@pytest.fixture
async def roles(infra: Infra) -> AsyncIterator[Roles]:
    tag = uuid.uuid4().hex[:10]
    owner, service, password = f"kf_owner_{tag}", f"kf_service_{tag}", secrets.token_hex(16)
    async with scratch_database(infra.pg_admin_dsn, "audit_owner") as db:
        # role names are generated above, never input; DDL cannot take parameters
        await db.admin.execute(f"CREATE ROLE {owner} LOGIN PASSWORD '{password}'")
        await db.admin.execute(f"CREATE ROLE {service} LOGIN PASSWORD '{password}'")
        try:
            await db.admin.execute(f'ALTER DATABASE "{db.name}" OWNER TO {owner}')
            yield Roles(as_role(db.dsn, owner, password), as_role(db.dsn, service, password))
        finally:
            await db.admin.execute(f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)')
            await db.admin.execute(f"DROP ROLE IF EXISTS {service}")
            await db.admin.execute(f"DROP ROLE IF EXISTS {owner}")


async def test_the_service_role_appends_to_the_audit_trail_but_cannot_alter_it(roles: Roles) -> None:
    settings = ServiceSettings(
        environment="test", database_url=roles.service_dsn, migration_database_url=roles.owner_dsn
    )
    pool = await create_pool(settings.database_url.get_secret_value(), 2)
    try:
        for _ in range(2):  # every start migrates (nothing the second time) and grants again
            await prepare_schema(pool, PACKAGES, settings.migration_database_url.get_secret_value())
        owners = await pool.fetch(
            "SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        )
        assert {r["tableowner"] for r in owners} == {urlsplit(roles.owner_dsn).username}
        await audit.record(pool, audit.entry("notifications", system_principal("notifications"), "it.insert"))
        assert await pool.fetchval("SELECT count(*) FROM audit_log") == 1
        for attack in (
            "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_or_delete",
            "ALTER TABLE audit_log DISABLE TRIGGER ALL",
            "DROP TRIGGER audit_log_no_truncate ON audit_log",
            "ALTER TABLE audit_log ADD COLUMN note text",
            "DROP TABLE audit_log",
            "UPDATE audit_log SET action = 'forged'",
            "DELETE FROM audit_log",
            "TRUNCATE audit_log",
            "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql"
            " AS $$ BEGIN RETURN NEW; END $$",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await pool.execute(attack)
        assert [r["action"] for r in await pool.fetch("SELECT action FROM audit_log")] == ["it.insert"]
        # the service's own tables work as before: a timer scheduled, fired and removed
        timer = await pool.fetchval(
            "INSERT INTO timers(kind, key, due_at) VALUES ('it', 'k', now()) RETURNING id"
        )
        await pool.execute("UPDATE timers SET status = 'fired' WHERE id = $1", timer)
        await pool.execute("DELETE FROM timers WHERE id = $1", timer)
        await pool.execute(
            "INSERT INTO deliveries(id, idempotency_key, event_id, audience, channel, template_id,"
            " template_version, context, notification) VALUES ($1, 'k', $1, 'staff', 'feed', 't', 1,"
            " '{}', 'n')",
            uuid.uuid4(),
        )
    finally:
        await pool.close()


async def test_without_a_migration_role_the_service_migrates_as_before(roles: Roles) -> None:
    """Development and tests: one role, which owns what it migrates (nothing is revoked from it)."""
    pool = await create_pool(roles.owner_dsn, 2)
    try:
        await prepare_schema(pool, PACKAGES)
        await prepare_schema(pool, PACKAGES, roles.owner_dsn)  # the same role twice: no grants, no revokes
        await audit.record(
            pool, audit.entry("notifications", system_principal("notifications"), "it.one-role")
        )
        assert await pool.fetchval("SELECT count(*) FROM audit_log") == 1
    finally:
        await pool.close()
