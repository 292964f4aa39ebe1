"""The clinic this process decides with: a snapshot of the database's, replaced at once when it
changes — by the change itself in this process, by a NOTIFY in the others (``ClinicListener``), and
checked under the calendar lock before any booking decides (``require_current``), so a snapshot a
notification has not reached yet is never booked with."""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import structlog

from katflow_shared.messaging.errors import TRANSIENT_TYPES, TransientError
from katflow_shared.runtime import Runtime
from katflow_shared.wakeup import Wakeup

from ..adapters import postgres_calendar as calendar
from ..adapters import postgres_clinic as store
from ..domain.clinic import ClinicConfig

log = structlog.get_logger()
POLL_SECONDS = 30.0  # a NOTIFY lost while the listener reconnected costs at most this


class ClinicChanged(TransientError):
    """The clinic changed after this process's snapshot was taken: decided again on the new one."""


class Clinics:
    def __init__(self, clinic: ClinicConfig, version: int = 0) -> None:
        self.current = clinic
        self.version = version

    def replace(self, clinic: ClinicConfig, version: int, force: bool = True) -> None:
        """Take ``clinic`` at ``version``; unless ``force``d, only when it is not older than the
        snapshot (a background read that began before a change this process made)."""
        if force or version >= self.version:
            self.current, self.version = clinic, version

    async def reload(self, conn: asyncpg.Connection, force: bool = True) -> None:
        """From ``conn``: under the calendar lock (the database's word) or in a read-only snapshot."""
        clinic, version = await store.load(conn, self.current.clinic_id)
        self.replace(clinic, version, force)

    async def refresh(self, pool: asyncpg.Pool) -> None:
        """Reload in one consistent read, never going back to an older version."""
        async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            await self.reload(conn, force=False)

    async def start(self, pool: asyncpg.Pool) -> None:
        """Import the seed (this snapshot) if the database has no clinic yet, then take the
        database's. Watermarks computed by an older release are not trusted (generation bump)."""
        async with pool.acquire() as conn, conn.transaction():
            await calendar.lock_calendar(conn)  # replicas starting together import once
            if not await store.has_clinic(conn, self.current.clinic_id):
                await store.import_seed(conn, self.current)
                log.info("clinic_seed_imported", clinic_id=self.current.clinic_id)
            await conn.execute("UPDATE calendar_generation SET generation = generation + 1")
            clinic, version = await store.load(conn, self.current.clinic_id)
        self.current, self.version = clinic, version

    async def require_current(self, conn: asyncpg.Connection, version: int | None = None) -> None:
        """Under the calendar lock, with the database's clinic ``version`` (read now when not given):
        when the snapshot is older, take the new one and raise ClinicChanged, so the decision is
        made again (a consumer retries; HTTP answers 503 + Retry-After)."""
        version = await store.version(conn) if version is None else version
        if version != self.version:
            await self.reload(conn)
            raise ClinicChanged("the clinic changed; deciding again on the new one")


class ClinicListener:
    """Reloads the snapshot when another process changes the clinic (NOTIFY), and every
    ``POLL_SECONDS`` in case a notification was lost."""

    def __init__(self, runtime: Runtime, clinics: Clinics) -> None:
        self.runtime, self.clinics = runtime, clinics
        self.wakeup = Wakeup(runtime.settings.database_url.get_secret_value(), store.CHANNEL)
        self._stopping = False

    async def run(self) -> None:
        while not self._stopping:
            try:
                await self.wakeup.listen()
                await self.clinics.refresh(self.runtime.pool)
            except (*TRANSIENT_TYPES, asyncpg.PostgresError) as exc:  # a database restart: try again
                log.warning("clinic_reload_failed", error=type(exc).__name__)
                self.wakeup.drop()
                await asyncio.sleep(1)
                continue
            await self.wakeup.wait(POLL_SECONDS)
        with contextlib.suppress(Exception):
            await self.wakeup.close()

    async def stop(self) -> None:
        self._stopping = True
        self.wakeup.set()
