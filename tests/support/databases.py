"""A scratch PostgreSQL database with a migrated pool on it, as the integration tests set one up, and
the kernel's units of work on such a database."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from katflow_shared import timers
from katflow_shared.clock import Clock
from katflow_shared.db import create_pool, migrate
from katflow_shared.messaging import outbox
from katflow_shared.messaging.emitter import Emitter
from katflow_shared.settings import ServiceSettings
from katflow_shared.unit_of_work import Units
from katflow_shared.wakeup import Announcer, Wakeup
from katflow_tools.databases import Scratch, scratch_database
from tests.support.infra import Infra

NOTIFICATIONS = ("katflow_shared", "katflow_notifications")  # the notifications service's migrations


@dataclass(frozen=True)
class Migrated:
    scratch: Scratch
    pool: asyncpg.Pool

    @property
    def dsn(self) -> str:
        return self.scratch.dsn

    def settings(self, **values: Any) -> ServiceSettings:
        """A test service's settings on this database."""
        return ServiceSettings(environment="test", database_url=self.dsn, **values)


@contextlib.asynccontextmanager
async def migrated_database(
    infra: Infra,
    prefix: str,
    packages: Sequence[str] = ("katflow_shared",),
    *,
    pool_size: int = 4,
    then: Sequence[str] = (),
) -> AsyncIterator[Migrated]:
    """A scratch database named ``<prefix>_<random>`` with ``packages``' migrations applied and the
    statements ``then`` run after them, and a pool of ``pool_size`` on it (closed, and the database
    dropped, on exit)."""
    async with scratch_database(infra.pg_admin_dsn, prefix) as scratch:
        pool = await create_pool(scratch.dsn, pool_size)
        try:
            await migrate(pool, list(packages))
            for statement in then:
                await pool.execute(statement)
            yield Migrated(scratch, pool)
        finally:
            await pool.close()


@dataclass(frozen=True)
class RelayedUnits:
    units: Units
    relay: Wakeup  # attached to the emitter's announcer, as a leading relay's is
    settings: ServiceSettings


def relayed_units(db: Migrated, clock: Clock) -> RelayedUnits:
    """Units on ``db`` whose emitter notes this process's outbox relay (a ``Wakeup`` on the outbox
    channel) after each commit."""
    settings = db.settings()
    announcer, relay = Announcer(outbox.CHANNEL), Wakeup(db.dsn, outbox.CHANNEL)
    announcer.attach(relay)
    units = Units(db.pool, clock, Emitter(settings, announcer), Announcer(timers.CHANNEL))
    return RelayedUnits(units, relay, settings)
