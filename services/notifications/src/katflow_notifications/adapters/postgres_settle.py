"""Settling deliveries a provider accepted: the delivery's state, its attempt and what the channel
itself writes (``settled``: the writes of one unit of work, with each delivery's audit record and
NotificationSent); and whether such a settle committed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from katflow_shared.db import Part
from katflow_shared.messaging.cloudevents import Envelope

from ..domain import status as st
from ..ports import Receipt


@dataclass(frozen=True)
class Accepted:
    """A delivery a provider accepted, to be settled: the receipt and when, its audit record
    (``audit.entry`` values) and, unless None, its NotificationSent (built where it was sent, so its
    trace and correlation are that work's)."""

    delivery_id: UUID
    receipt: Receipt
    at: datetime
    audited: tuple[object, ...]
    announced: Envelope | None


# For each accepted delivery: the attempt counted and logged, sending → sent (or delivered), the
# audit record, NotificationSent in the outbox and what the channel itself writes (a staff feed
# item) — for all of them in one statement, so one round trip between a provider's acceptance and
# the delivery being marked sent (the one window in which a crash re-sends a message). A provider
# callback may already have moved a delivery on: its verdict is kept and only the provider id and
# sent time are filled in. ``prior`` locks the rows first (in id order, so two statements never wait
# on each other) so the status it reports is the one being replaced. The head of ``db.composed``:
# parameters $1..$4, one array element per delivery.
_SETTLE_SENT = """
accepted AS (
  SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[])
    AS a(id, status, provider_id, at)
), prior AS (
  SELECT d.id, d.status FROM deliveries d JOIN accepted a ON a.id = d.id ORDER BY d.id FOR UPDATE OF d
), moving AS (
  SELECT a.*, p.status = 'sending' AS moved FROM prior p JOIN accepted a ON a.id = p.id
), settled AS (
  UPDATE deliveries d SET
    attempts = d.attempts + 1,
    status = CASE WHEN m.moved THEN m.status ELSE d.status END,
    provider_id = CASE WHEN m.moved THEN m.provider_id ELSE COALESCE(d.provider_id, m.provider_id) END,
    sent_at = CASE WHEN m.moved THEN m.at ELSE COALESCE(d.sent_at, m.at) END,
    last_error = CASE WHEN m.moved THEN NULL ELSE d.last_error END,
    reason = CASE WHEN m.moved THEN NULL ELSE d.reason END,
    delivered_at = CASE WHEN m.moved AND m.status = 'delivered' THEN m.at ELSE d.delivered_at END,
    updated_at = CASE WHEN m.moved THEN m.at ELSE d.updated_at END
  FROM moving m WHERE d.id = m.id
  RETURNING d.id, d.attempts, m.provider_id, m.at
), logged AS (
  INSERT INTO delivery_attempts(delivery_id, attempt, attempted_at, outcome, error_code, provider_id)
  SELECT id, attempts, at, 'accepted', NULL, provider_id FROM settled
)"""


def settled(accepted: Sequence[Accepted]) -> tuple[list[Part], Part]:
    """The writes that settle ``accepted`` (see ``_SETTLE_SENT``): (what each channel itself writes,
    the head for ``db.composed``)."""
    head = (
        _SETTLE_SENT,
        (
            [a.delivery_id for a in accepted],
            [st.DELIVERED if a.receipt.delivered else st.SENT for a in accepted],
            [a.receipt.provider_id for a in accepted],
            [a.at for a in accepted],
        ),
    )
    return [w for a in accepted for w in a.receipt.writes], head


async def accepted_on_record(pool: asyncpg.Pool, delivery_id: UUID, provider_id: str) -> bool:
    """Whether a settle of this acceptance committed (its 'accepted' attempt is logged)."""
    found = await pool.fetchval(
        "SELECT EXISTS (SELECT 1 FROM delivery_attempts WHERE delivery_id = $1 AND outcome = 'accepted'"
        " AND provider_id = $2)",
        delivery_id,
        provider_id,
    )
    return bool(found)
