"""asyncpg pool and versioned SQL migrations (applied at start under an advisory lock)."""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import AsyncIterator, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import asyncpg
import structlog

log = structlog.get_logger()

MIGRATION_LOCK_ID = 0x6B6174666C6F77  # "katflow": one migrator per database at a time
Part = tuple[str, Sequence[object]]  # a statement and its parameters ($1, $2, ...)
_open: ContextVar[_Open | None] = ContextVar("katflow_transaction", default=None)  # see ``transaction``


# Sessions whose statements run on their generic plans: planned once per connection (and again
# after a vacuum or analyze of their tables) instead of at every execution. PostgreSQL keeps making
# a custom plan per execution for a statement whose generic plan it estimates dearer, and does so
# again five times per connection after every invalidation: with the queue tables vacuumed every few
# seconds, the dispatcher's claim and settle statements were planned on most executions (planning
# 6.4 s and 4.9 s against 9.3 s and 14.1 s of execution over a long profile's saturation phase).
# Only for statements whose best plan does not depend on their parameters' values (queue claims,
# settles, the relay's read), never for searches with optional filters (``$1 IS NULL OR ...``),
# whose custom plans leave the absent ones out.
GENERIC_PLANS = {"plan_cache_mode": "force_generic_plan"}


async def create_pool(dsn: str, max_size: int = 10, *, generic_plans: bool = False) -> asyncpg.Pool:
    """The service's pool (one connection open from the start); with ``generic_plans`` a pool of
    ``GENERIC_PLANS`` sessions that opens its connections when first used."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=0 if generic_plans else 1,
        max_size=max_size,
        command_timeout=30,
        reset=_keep_session,
        server_settings=GENERIC_PLANS if generic_plans else None,
    )
    assert pool is not None
    return pool


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Release a pooled connection without a reset query: one round trip less per release.

    asyncpg's default reset sends ``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`` on
    every release. With a custom ``reset`` asyncpg still rolls back a transaction left open and drops
    Python-side listeners (``Connection._reset``) before calling this. Nothing in katflow leaves
    session state on a pooled connection for the next user, so there is nothing more to undo:

    - advisory locks: pooled work takes only transaction-scoped ones (``pg_advisory_xact_lock`` in
      scheduling's calendar lock, ``pg_try_advisory_xact_lock`` in the outbox relay), released at
      commit or rollback. The one session-level lock, ``migrate``'s, is unlocked in ``finally``, and
      the connection is terminated, not returned, if that unlock does not complete;
    - cursors: none are declared (no ``Connection.cursor``, ``DECLARE`` or ``WITH HOLD``); a
      transaction's portals close with it;
    - LISTEN: only on dedicated connections (``wakeup.Wakeup``: outbox relay, timer worker), never on
      pooled ones;
    - settings: no session ``SET``/``set_config(..., false)``; ``SET LOCAL`` ends with the transaction.

    Code that needs any of these on a pooled connection must undo it itself (or use its own
    connection), or this reset must go back to ``conn.get_reset_query()``.
    """


def migration_files(package: str) -> list[Traversable]:
    folder = resources.files(package).joinpath("migrations")
    return sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)


async def migrate(pool: asyncpg.Pool, packages: list[str]) -> list[str]:
    """Apply each package's ``migrations/NNN_name.sql`` once, in order; return what was applied."""
    applied: list[str] = []
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_ID)
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
            for package in packages:
                for file in migration_files(package):
                    version = f"{package}:{file.name}"
                    if version in done:
                        continue
                    async with conn.transaction():
                        await conn.execute(file.read_text())
                        await conn.execute("INSERT INTO schema_migrations(version) VALUES ($1)", version)
                    applied.append(version)
                    log.info("migration_applied", version=version)
        finally:
            try:
                await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_ID)
            except BaseException:
                conn.terminate()  # never back to the pool holding the lock (it is not reset there)
                raise
    return applied


# What the running service's role may do once a migration role owns the tables (``prepare_schema``):
# read and write every table, but on the audit trail only insert and read. Only an owner can ALTER
# or DROP a table or disable its triggers, so the append-only triggers hold against the service.
# (Role names cannot be parameters: the role comes in through a setting, quoted by format's %I.)
SERVICE_GRANTS = (
    "DO $$ DECLARE r text := current_setting('katflow.service_role'); BEGIN"
    " EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', r);"
    " EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %I', r);"
    " EXECUTE format('GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO %I', r);"
    " EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON audit_log FROM %I', r);"
    " END $$"
)


async def prepare_schema(service_pool: asyncpg.Pool, packages: list[str], migration_dsn: str = "") -> None:
    """Migrate the database. Without ``migration_dsn`` the service's own role does it (and owns the
    tables). With it, that role (the owner) migrates and the service's role is granted only what it
    needs (``SERVICE_GRANTS``), so the service cannot alter the audit trail or its triggers."""
    if not migration_dsn:
        await migrate(service_pool, packages)
        return
    owner_pool = await create_pool(migration_dsn, 1)
    try:
        await migrate(owner_pool, packages)
        service_role = await service_pool.fetchval("SELECT current_user")
        async with owner_pool.acquire() as conn:
            if service_role == await conn.fetchval("SELECT current_user"):
                return  # one role for both: nothing to grant (and never revoke from the owner)
            async with conn.transaction():
                await conn.execute("SELECT set_config('katflow.service_role', $1, true)", service_role)
                await conn.execute(SERVICE_GRANTS)
    finally:
        await owner_pool.close()


@functools.lru_cache(maxsize=4096)  # constant statements at a handful of offsets: computed once each
def renumbered(statement: str, offset: int) -> str:
    """``statement`` with its parameters $1, $2, ... moved to $(1 + offset), ...: for composing
    constant statements into one (e.g. a data-modifying CTE after another's parameters)."""
    if offset == 0:
        return statement
    return re.sub(r"\$(\d+)", lambda m: f"${int(m[1]) + offset}", statement)


async def execute_composed(
    db: asyncpg.Connection | asyncpg.Pool, parts: Sequence[Part], results: Sequence[Part] = ()
) -> None:
    """Run ``composed(parts, results)``: one round trip (on a pool, its own transaction)."""
    statement, args = composed(parts, results)
    await db.execute(statement, *args)


async def wrote(db: asyncpg.Connection | asyncpg.Pool, statement: str, *args: object) -> bool:
    """Run a guarded write that ends ``RETURNING true`` (``ON CONFLICT DO NOTHING``, ``WHERE ... IS
    NULL``, the ``DELETE`` of one row): whether it wrote, False when its guard found the work done
    already (a redelivery, a replay) or nothing to remove."""
    return bool(await db.fetchval(statement, *args))


async def fetchval_composed(
    db: asyncpg.Connection | asyncpg.Pool,
    parts: Sequence[Part],
    results: Sequence[Part] = (),
    head: Part | None = None,
) -> Any:
    """Run ``composed(parts, results, head)`` and return its first result (one round trip)."""
    statement, args = composed(parts, results, head)
    return await db.fetchval(statement, *args)


def composed(parts: Sequence[Part], results: Sequence[Part] = (), head: Part | None = None) -> Part:
    """``parts`` (data-modifying statements) as one statement that then selects ``results``
    (expressions, such as a ``pg_notify`` delivered at commit): one round trip, and on its own one
    transaction — every part takes effect or none does. The parts run as CTEs on one snapshot, so
    none sees another's rows, and the order they run in is not defined (rows whose order matters go
    in one part; no two parts may change the same row); constraints are checked at the statement's
    end, so a row may come before the row it references. ``head``: named CTEs of the caller's own
    (``a AS (...), b AS (...)``, its parameters first) that may refer to each other and that
    ``results`` may select from."""
    ctes: list[str] = [head[0]] if head else []
    args: list[object] = list(head[1]) if head else []
    for n, (statement, params) in enumerate(parts):
        ctes.append(f"part{n} AS ({renumbered(statement, len(args))})")
        args += params
    selected: list[str] = []
    for expression, params in results:
        selected.append(renumbered(expression, len(args)))
        args += params
    with_ = f"WITH {', '.join(ctes)} " if ctes else ""
    return f"{with_}SELECT {', '.join(selected) or '1'}", args


@contextlib.asynccontextmanager
async def transaction(conn: asyncpg.Connection) -> AsyncIterator[None]:
    """``conn.transaction()``, after whose commit what the writes in it asked for (``after_commit``)
    is called: in-process wake-ups (``wakeup.resolved``). Nothing is called after a rollback. Inside
    a transaction already open on ``conn``, a savepoint: its writes' calls wait for the outer
    ``db.transaction``'s commit, or, in a plain transaction (whose commit is not seen here), they
    NOTIFY at its commit."""
    if conn.is_in_transaction():
        async with conn.transaction():
            yield
        return
    current = _Open(conn)
    token = _open.set(current)
    try:
        async with conn.transaction():
            yield
    finally:
        _open.reset(token)
        current.ended = True  # also for a task that copied this context
    for call in current.then:
        call()


@dataclass
class _Open:
    """A ``transaction`` open on ``conn``, and what to call once it committed."""

    conn: asyncpg.Connection
    then: list[Callable[[], None]] = field(default_factory=list)
    ended: bool = False


def after_commit(conn: asyncpg.Connection) -> list[Callable[[], None]] | None:
    """What the ``transaction`` open on ``conn`` in this task calls once committed (append to it);
    None when no such transaction is open (the writer cannot see the commit: NOTIFY)."""
    current = _open.get()
    return current.then if current is not None and current.conn is conn and not current.ended else None
