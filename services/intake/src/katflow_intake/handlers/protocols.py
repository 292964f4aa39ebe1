"""Which protocol version new courses are pinned to, and an admin activating another.

Protocol versions are files, shipped and validated at start (``katflow_shared.treatment_protocols``): a new
version arrives with a release and waits. Until an admin activates one, new courses of a route are
pinned to the route's first version on file; after, to the version activated last. A course keeps
the version it was pinned to (at its first eligible decision) whatever is activated later.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from katflow_shared.contracts import ProtocolVersionActivated
from katflow_shared.contracts.common import Route
from katflow_shared.errors import RuleViolation
from katflow_shared.runtime import Runtime
from katflow_shared.treatment_protocols import Protocol, ProtocolBook

from ..adapters import postgres_protocols as store


async def active(conn: asyncpg.Connection | asyncpg.Pool, book: ProtocolBook, route: Route) -> Protocol:
    """The version a course of ``route`` is pinned to now."""
    version = await store.activated(conn, route)
    if version is None:
        return book.first(route)
    if version not in book.protocols:  # activated, then its file left the release: refuse, loudly
        raise RuleViolation(
            ["route"], "active_protocol_not_on_file", f"the active protocol {version} is not on file", 409
        )
    return book.get(version)


async def activate(runtime: Runtime, book: ProtocolBook, version: str, by: str) -> dict[str, Any]:
    """Make ``version`` the one new courses of its route are pinned to (ProtocolVersionActivated)."""
    protocol = book.protocols.get(version)
    if protocol is None:
        raise RuleViolation(["protocol_id"], "protocol_not_found", "no such protocol version on file", 404)
    now = runtime.clock.now()
    async with runtime.pool.acquire() as conn, conn.transaction():
        await store.lock(conn)
        previous = await active(conn, book, protocol.route)
        if previous.id == protocol.id:
            raise RuleViolation(["protocol_id"], "already_active", f"{version} is already active", 409)
        await store.record(conn, protocol.route, protocol.id, now, by)
        event = ProtocolVersionActivated(
            route=protocol.route, protocol_version=protocol.id, previous_version=previous.id, activated_at=now
        )
        await runtime.emitter.emit(conn, event)
    return {
        "route": protocol.route.value,
        "protocol_version": protocol.id,
        "previous_version": previous.id,
        "activated_at": now,
    }


async def versions(pool: asyncpg.Pool, book: ProtocolBook) -> list[dict[str, Any]]:
    """Every version on file, with which one new courses of its route get."""
    pinned = {
        route: (await active(pool, book, route)).id for route in {p.route for p in book.protocols.values()}
    }
    on_file = sorted(book.protocols.values(), key=lambda p: (p.route.value, p.version))
    return [
        {"id": p.id, "route": p.route.value, "version": p.version, "active": pinned[p.route] == p.id}
        for p in on_file
    ]
