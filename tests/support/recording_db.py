"""A recording stand-in for an asyncpg pool and its connections: what the unit of work (and the
adapters it runs) send to the database, in order, as a list of statements (BEGIN, COMMIT and
ROLLBACK included). Reads answer from ``rows`` (one row per ``fetchrow``, None when exhausted)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any


class Conn:
    """What the unit of work uses of an asyncpg connection; it records what reaches the database."""

    def __init__(self, log: list[str], rows: list[Any]) -> None:
        self.log = log
        self.rows = rows
        self._open = False

    def is_in_transaction(self) -> bool:
        return self._open

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        self.log.append("BEGIN")
        self._open = True
        try:
            yield
        except BaseException:
            self.log.append("ROLLBACK")
            raise
        finally:
            self._open = False
        self.log.append("COMMIT")

    async def fetchval(self, statement: str, *args: object) -> Any:
        self.log.append(statement)
        return None

    async def execute(self, statement: str, *args: object) -> str:
        self.log.append(statement)
        return "UPDATE 0"

    async def fetchrow(self, statement: str, *args: object) -> Any:
        self.log.append(statement)
        return self.rows.pop(0) if self.rows else None


class Pool:
    def __init__(self, rows: list[Any] | None = None) -> None:
        self.log: list[str] = []
        self.rows = rows or []

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[Conn]:
        yield Conn(self.log, self.rows)
