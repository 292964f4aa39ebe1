"""Staff sessions and logins in progress: the cookie holds a random id, the table its SHA-256 and
the person's tokens (never in the browser)."""

from __future__ import annotations

import hashlib
from datetime import datetime

import asyncpg


def id_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


async def start_login(pool: asyncpg.Pool, state: str, verifier: str, next_path: str) -> None:
    await pool.execute("DELETE FROM console_logins WHERE created_at < now() - interval '15 minutes'")
    await pool.execute("INSERT INTO console_logins VALUES ($1, $2, $3)", state, verifier, next_path)


async def take_login(pool: asyncpg.Pool, state: str) -> asyncpg.Record | None:
    """The login ``state`` started, once (a replayed callback finds nothing)."""
    return await pool.fetchrow(
        "DELETE FROM console_logins WHERE state = $1 AND created_at > now() - interval '15 minutes'"
        " RETURNING code_verifier, next_path",
        state,
    )


async def save(
    pool: asyncpg.Pool,
    session_id: str,
    subject: str,
    roles: list[str],
    access: str,
    refresh: str | None,
    access_expires_at: datetime,
    expires_at: datetime,
) -> None:
    await pool.execute(
        "INSERT INTO console_sessions VALUES ($1, $2, $2, $3, $4, $5, $6, $7)",
        id_hash(session_id),
        subject,
        roles,
        access,
        refresh,
        access_expires_at,
        expires_at,
    )


async def load(pool: asyncpg.Pool, session_id: str) -> asyncpg.Record | None:
    return await pool.fetchrow(
        "SELECT * FROM console_sessions WHERE id_hash = $1 AND expires_at > now()", id_hash(session_id)
    )


async def renew(
    pool: asyncpg.Pool, session_id: str, access: str, refresh: str | None, access_expires_at: datetime
) -> None:
    await pool.execute(
        "UPDATE console_sessions SET access_token = $2, refresh_token = COALESCE($3, refresh_token),"
        " access_expires_at = $4 WHERE id_hash = $1",
        id_hash(session_id),
        access,
        refresh,
        access_expires_at,
    )


async def end(pool: asyncpg.Pool, session_id: str) -> None:
    await pool.execute("DELETE FROM console_sessions WHERE id_hash = $1", id_hash(session_id))
