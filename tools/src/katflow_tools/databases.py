"""Scratch PostgreSQL databases for tests and benchmarks: created empty, dropped afterwards."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import asyncpg


def admin_dsn() -> str:
    """The PostgreSQL admin DSN: ``KATFLOW_PG_ADMIN_DSN``, else the local provisioning's
    (``deploy/local/infra.sh``)."""
    return os.environ.get("KATFLOW_PG_ADMIN_DSN", "postgresql://katflow:katflow@127.0.0.1:55432/postgres")


def database_dsn(admin_dsn: str, name: str) -> str:
    """The DSN of database ``name`` on the server ``admin_dsn`` points at (same user, host, options)."""
    return urlunsplit(urlsplit(admin_dsn)._replace(path=f"/{name}"))


@dataclass(frozen=True)
class Scratch:
    name: str
    dsn: str
    admin: asyncpg.Connection  # to the server's admin database, open while the scratch one exists


@contextlib.asynccontextmanager
async def scratch_database(admin_dsn: str, prefix: str) -> AsyncIterator[Scratch]:
    """A new empty database named ``<prefix>_<random>``, dropped on exit even while connections to
    it are left open (``WITH (FORCE)``)."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield Scratch(name, database_dsn(admin_dsn, name), admin)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
