"""Which protocol version new courses are pinned to, and an admin activating another.

Protocol versions are files, shipped and validated at start (``katflow_shared.treatment_protocols``): a new
version arrives with a release and waits. Until an admin activates one, new courses of a route are
pinned to the route's first version on file; after, to the version activated last. A course keeps
the version it was pinned to (at its first eligible decision) whatever is activated later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from katflow_shared.contracts import ProtocolVersionActivated
from katflow_shared.contracts.common import Route
from katflow_shared.errors import RuleViolation
from katflow_shared.treatment_protocols import Protocol, ProtocolBook
from katflow_shared.unit_of_work import Units

from ..adapters import postgres_protocols as store


@dataclass(frozen=True)
class Activated:
    route: str
    protocol_version: str
    previous_version: str
    activated_at: datetime


@dataclass(frozen=True)
class OnFile:
    """A protocol version on file, and whether new courses of its route get it."""

    id: str
    route: str
    version: int
    active: bool


async def active(conn: asyncpg.Connection, book: ProtocolBook, route: Route) -> Protocol:
    """The version a course of ``route`` is pinned to now."""
    version = await store.activated(conn, route)
    if version is None:
        return book.first(route)
    if version not in book.protocols:  # activated, then its file left the release: refuse, loudly
        raise RuleViolation(
            ["route"], "active_protocol_not_on_file", f"the active protocol {version} is not on file", 409
        )
    return book.get(version)


async def activate(units: Units, book: ProtocolBook, version: str, by: str) -> Activated:
    """Make ``version`` the one new courses of its route are pinned to (ProtocolVersionActivated)."""
    protocol = book.protocols.get(version)
    if protocol is None:
        raise RuleViolation(["protocol_id"], "protocol_not_found", "no such protocol version on file", 404)
    async with units.start() as uow:
        await store.lock(uow.conn)
        previous = await active(uow.conn, book, protocol.route)
        if previous.id == protocol.id:
            raise RuleViolation(["protocol_id"], "already_active", f"{version} is already active", 409)
        await store.record(uow.conn, protocol.route, protocol.id, uow.now, by)
        event = ProtocolVersionActivated(
            route=protocol.route,
            protocol_version=protocol.id,
            previous_version=previous.id,
            activated_at=uow.now,
        )
        uow.emit(event)
    return Activated(protocol.route.value, protocol.id, previous.id, uow.now)


async def versions(units: Units, book: ProtocolBook) -> list[OnFile]:
    """Every version on file, with which one new courses of its route get."""
    async with units.start(one_statement=True) as uow:  # reads only
        routes = {p.route for p in book.protocols.values()}
        pinned = {route: (await active(uow.conn, book, route)).id for route in routes}
    on_file = sorted(book.protocols.values(), key=lambda p: (p.route.value, p.version))
    return [OnFile(p.id, p.route.value, p.version, pinned[p.route] == p.id) for p in on_file]
