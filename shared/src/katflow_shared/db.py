"""asyncpg pool and versioned SQL migrations (applied at start under an advisory lock)."""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable

import asyncpg
import structlog

log = structlog.get_logger()

MIGRATION_LOCK_ID = 0x6B6174666C6F77  # "katflow": one migrator per database at a time


async def create_pool(dsn: str, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=max_size, command_timeout=30)
    assert pool is not None
    return pool


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
            await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_ID)
    return applied
