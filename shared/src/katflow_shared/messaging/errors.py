"""Error classes that drive what the consumer does: retry, dead-letter, or stop."""

from __future__ import annotations

import asyncio

import asyncpg
from aiokafka.errors import KafkaError


class TransientError(Exception):
    """Worth retrying later: a dependency is unavailable or timed out."""


class PermanentError(Exception):
    """Retrying cannot help: the message or its content is invalid for this handler."""


class InvalidMessage(PermanentError):
    """The record is not a valid katflow CloudEvent (bad headers, bad JSON, schema violation)."""


TRANSIENT_TYPES: tuple[type[Exception], ...] = (
    TransientError,
    OSError,
    TimeoutError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.InterfaceError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.InternalClientError,  # a pooled connection told "shutting down" while idle (server restart)
    KafkaError,
)


# Values the database can never hold (a NUL in text, a number out of range, a non-UUID id): no retry
# can help. asyncpg's client-side DataError is an InterfaceError, so it is matched before TRANSIENT.
PERMANENT_TYPES: tuple[type[BaseException], ...] = (
    PermanentError,
    asyncpg.DataError,
    asyncpg.exceptions._base.DataError,
)


def classify(error: BaseException) -> str:
    """'transient', 'permanent' or 'unknown' (unknown errors get a bounded number of attempts)."""
    if isinstance(error, PERMANENT_TYPES):
        return "permanent"
    if isinstance(error, TRANSIENT_TYPES):
        return "transient"
    return "unknown"
