"""Login, the current person (their access token refreshed when it is about to expire), logout."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from katflow_shared.auth import Authenticator, Unauthenticated
from katflow_shared.roles import Role

from ..adapters import postgres_sessions as store
from ..adapters.oidc import Idp, LoginFailed, Tokens, new_secret

REFRESH_MARGIN = timedelta(seconds=30)


@dataclass(frozen=True)
class Staff:
    """The person signed in: their staff id (the token's subject), roles and access token."""

    subject: str
    roles: frozenset[str]
    access_token: str

    def holds(self, role: Role) -> bool:
        return role.value in self.roles


async def begin(pool: asyncpg.Pool, idp: Idp, next_path: str) -> str:
    """Where to send the browser to log in (state and PKCE verifier kept here, not in the browser)."""
    state, verifier = new_secret(), new_secret()
    await store.start_login(pool, state, verifier, next_path if next_path.startswith("/") else "/")
    return idp.authorization_url(state, verifier)


async def finish(
    pool: asyncpg.Pool, idp: Idp, auth: Authenticator, state: str, code: str, hours: float
) -> tuple[str, str]:
    """The code back at the redirect becomes a session: (session id for the cookie, where to go)."""
    login = await store.take_login(pool, state)
    if login is None:
        raise LoginFailed("unknown or expired login state")
    tokens = await idp.exchange(code, login["code_verifier"])
    staff = await _verified(auth, tokens.access_token)
    session_id, now = new_secret(), datetime.now(UTC)
    roles = sorted(staff.roles)
    await store.save(
        pool, session_id, staff.subject, roles, tokens.access_token, tokens.refresh_token,
        _expiry(tokens, now), now + timedelta(hours=hours),
    )  # fmt: skip
    return session_id, str(login["next_path"])


async def current(pool: asyncpg.Pool, idp: Idp, auth: Authenticator, session_id: str) -> Staff | None:
    """The person behind a session cookie, or None (no session, expired, refresh refused)."""
    row = await store.load(pool, session_id)
    if row is None:
        return None
    access = row["access_token"]
    if row["access_expires_at"] - REFRESH_MARGIN < datetime.now(UTC):
        if not row["refresh_token"]:
            return None
        try:
            tokens = await idp.refresh(row["refresh_token"])
        except LoginFailed:
            await store.end(pool, session_id)
            return None
        access = tokens.access_token
        await store.renew(pool, session_id, access, tokens.refresh_token, _expiry(tokens, datetime.now(UTC)))
    return Staff(row["subject"], frozenset(row["roles"]), access)


async def _verified(auth: Authenticator, token: str) -> Staff:
    try:
        principal = await auth.authenticate(token)
    except Unauthenticated as exc:
        raise LoginFailed(str(exc)) from exc
    subject = principal.subject.removeprefix("user:")  # the staff id (older kernels prefixed JWT callers)
    return Staff(subject, frozenset(r.value for r in principal.roles), token)


def _expiry(tokens: Tokens, now: datetime) -> datetime:
    return now + timedelta(seconds=tokens.expires_in)


async def end(pool: asyncpg.Pool, session_id: str) -> None:
    await store.end(pool, session_id)
