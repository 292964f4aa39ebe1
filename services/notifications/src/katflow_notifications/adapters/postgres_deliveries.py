"""The deliveries table: queue, claim under a lease, record attempts and outcomes, history."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
from prometheus_client import Gauge

from katflow_shared import audit
from katflow_shared.db import Part
from katflow_shared.messaging import outbox
from katflow_shared.messaging.emitter import Writes
from katflow_shared.wakeup import Announcer, Wake

from ..domain import status as st
from ..ports import Receipt


@dataclass(frozen=True)
class NewDelivery:
    event_id: UUID
    notification: str
    audience: str
    channel: str
    template_family: str
    template_id: str
    template_version: int
    locale: str
    recipient: str  # patient id, staff id, webhook name or integrator endpoint id
    facts: Mapping[str, str]
    now: datetime
    course_id: UUID | None = None
    patient_id: UUID | None = None
    staff_id: str | None = None
    appointment_id: UUID | None = None
    address: str | None = None
    urgent: bool = False
    automated: bool = False
    exempt: bool = False
    fallback_of: UUID | None = None

    @property
    def idempotency_key(self) -> str:
        """One message per (event, recipient, channel, template)."""
        return f"{self.event_id}:{self.recipient}:{self.channel}:{self.template_family}"


@dataclass(frozen=True)
class Delivery:
    """A claimed delivery with what the dispatcher needs about its recipient."""

    id: UUID
    event_id: UUID
    notification: str
    audience: str
    channel: str
    template_id: str
    template_version: int
    locale: str
    facts: dict[str, str]
    attempts: int
    course_id: UUID | None
    patient_id: UUID | None
    staff_id: str | None
    appointment_id: UUID | None
    address: str | None
    urgent: bool
    automated: bool
    exempt: bool
    created_at: datetime
    recipient: dict[str, Any] = field(default_factory=dict)  # patient row (+ sms opt-out), if any

    @property
    def shares_lane(self) -> bool:
        """Whether other deliveries can be in its lane (a patient's, or an address's; migration 004):
        a delivery without either is a lane of its own."""
        return self.patient_id is not None or self.address is not None

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> Delivery:
        names = [f for f in cls.__dataclass_fields__ if f not in ("facts", "recipient")]
        values = {n: row[n] for n in names}
        recipient = {k.removeprefix("r_"): row[k] for k in row.keys() if k.startswith("r_")}
        return cls(**values, facts=json.loads(row["context"]), recipient=recipient)


DELIVERIES_CHANNEL = "katflow_deliveries"  # NOTIFY at commit when a delivery was queued: wakes dispatchers

# Every delivery one statement: the rows as arrays (one prepared statement whatever their number),
# each inserted unless its idempotency key exists, in the order given (queued_seq, and so a lane's
# order, follows it); with the dispatchers' wake-up (``woken``).
QUEUE_ROWS = (
    "INSERT INTO deliveries(id, idempotency_key, event_id, course_id, patient_id, staff_id,"
    " audience, channel, template_id, template_version, context, notification, locale, appointment_id,"
    " address, urgent, automated, exempt, fallback_of, created_at, next_attempt_at, updated_at)"
    " SELECT n.id, n.idempotency_key, n.event_id, n.course_id, n.patient_id, n.staff_id, n.audience,"
    " n.channel, n.template_id, n.template_version, n.context, n.notification, n.locale, n.appointment_id,"
    " n.address, n.urgent, n.automated, n.exempt, n.fallback_of, n.created_at, n.created_at, n.created_at"
    " FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::uuid[],"
    " $5::uuid[], $6::text[], $7::text[], $8::text[], $9::text[], $10::int[], $11::jsonb[], $12::text[],"
    " $13::text[], $14::uuid[], $15::text[], $16::bool[], $17::bool[], $18::bool[], $19::uuid[],"
    " $20::timestamptz[]) WITH ORDINALITY AS n(id, idempotency_key, event_id, course_id, patient_id,"
    " staff_id, audience, channel, template_id, template_version, context, notification, locale,"
    " appointment_id, address, urgent, automated, exempt, fallback_of, created_at, seq) ORDER BY n.seq"
    " ON CONFLICT (idempotency_key) DO NOTHING"
)
# The NOTIFY's payload says which process queued: its own dispatcher claims at once, the other
# replicas' dispatchers leave it to that one for a moment (Dispatcher._leave_to_peer).
ORIGIN = uuid.uuid4().hex


def woken(dispatching: Announcer | None = None) -> Writes:
    """The dispatchers woken: in-process once committed while this process's runs (``dispatching``,
    attached by it; see ``Writes.run``), else by a NOTIFY at commit naming this process."""
    return Writes([], wakes=[(dispatching or Announcer(DELIVERIES_CHANNEL)).wake(ORIGIN)])


async def queue(
    conn: asyncpg.Connection, new: Sequence[NewDelivery], dispatching: Announcer | None = None
) -> None:
    """Insert those whose idempotency key is new, in one statement (in the caller's transaction)."""
    await queued(new, dispatching).run(conn)


def queued(new: Sequence[NewDelivery], dispatching: Announcer | None = None) -> Writes:
    """``queue``'s statement: the insert and the dispatchers woken; nothing when there is nothing."""
    return Writes([(QUEUE_ROWS, _columns(new))]) + woken(dispatching) if new else Writes([])


def _columns(new: Sequence[NewDelivery]) -> list[list[object]]:
    """The deliveries as the INSERT's arrays, one per column, in order."""
    rows = (
        (
            uuid.uuid4(),
            d.idempotency_key,
            d.event_id,
            d.course_id,
            d.patient_id,
            d.staff_id,
            d.audience,
            d.channel,
            d.template_id,
            d.template_version,
            json.dumps(dict(d.facts)),
            d.notification,
            d.locale,
            d.appointment_id,
            d.address,
            d.urgent,
            d.automated,
            d.exempt,
            d.fallback_of,
            d.now,
        )
        for d in new
    )
    return [list(column) for column in zip(*rows, strict=True)]


DELIVERY_COLUMNS = """
SELECT d.id, d.event_id, d.notification, d.audience, d.channel, d.template_id, d.template_version,
       d.locale, d.context, d.attempts, d.course_id, d.patient_id, d.staff_id, d.appointment_id,
       d.address, d.urgent, d.automated, d.exempt, d.created_at,
       r.patient_id AS r_patient_id, r.given_name AS r_given_name, r.email AS r_email, r.phone AS r_phone,
       r.time_zone AS r_time_zone, r.locale AS r_locale,
       r.email_consent AS r_email_consent, r.email_consent_at AS r_email_consent_at,
       r.sms_consent AS r_sms_consent, r.sms_consent_at AS r_sms_consent_at,
       o.changed_at AS r_sms_opted_out_at, r.optional_opted_out_at AS r_optional_opted_out_at
"""
RECIPIENT_JOINS = """
  LEFT JOIN recipients r ON r.patient_id = d.patient_id
  LEFT JOIN sms_opt_outs o ON o.phone = COALESCE(d.address, r.phone) AND o.opted_out
"""
DELIVERY_SELECT = DELIVERY_COLUMNS + "  FROM deliveries d" + RECIPIENT_JOINS
# One statement (its own transaction): lock due rows (patient ones once the contact details are known),
# each the head of its lane (no delivery of the lane being sent, none due and queued before it), lease
# them, and return them with their recipient: urgent ones first, then in the order they fell due
# (then were queued).
CLAIM_LEASE = """
WITH due AS (
  SELECT d.id, d.next_attempt_at AS due_at FROM deliveries d
    LEFT JOIN recipients r ON r.patient_id = d.patient_id
   WHERE d.status IN ('queued', 'sending') AND d.next_attempt_at <= $1
     AND (d.audience <> 'patient' OR r.patient_id IS NOT NULL OR d.address IS NOT NULL
          OR d.created_at <= $1 - $3::interval)
     AND NOT EXISTS (SELECT 1 FROM deliveries e
                      WHERE e.lane = d.lane AND e.id <> d.id AND e.status IN ('queued', 'sending')
                        AND (e.status = 'sending' AND e.next_attempt_at > $1
                             OR e.next_attempt_at <= $1 AND e.queued_seq < d.queued_seq))
   ORDER BY d.urgent DESC, d.next_attempt_at, d.queued_seq
   LIMIT $2
   FOR UPDATE OF d SKIP LOCKED
), claimed AS (
  UPDATE deliveries d SET status = 'sending', next_attempt_at = $4, updated_at = $1
    FROM due WHERE d.id = due.id
  RETURNING d.*, due.due_at
)
"""
CLAIM = (
    CLAIM_LEASE
    + DELIVERY_COLUMNS
    + "  FROM claimed d"
    + RECIPIENT_JOINS
    + " ORDER BY d.urgent DESC, d.due_at, d.queued_seq"
)


async def claim_due(
    conn: asyncpg.Connection | asyncpg.Pool,
    now: datetime,
    lease: timedelta,
    limit: int,
    recipient_wait: timedelta,
) -> list[Delivery]:
    """Claim due deliveries (patient ones once the contact details are known) under a lease."""
    rows = await conn.fetch(CLAIM, now, limit, recipient_wait, now + lease)
    return [Delivery.from_row(r) for r in rows]


CAP_LOCK = 0x63617073  # "caps": with the patient's id, one cap decision at a time per patient


async def sms_sent_times(
    conn: asyncpg.Connection, patient_id: UUID, since: datetime, exclude: UUID
) -> list[datetime]:
    """When this patient's automated texts were sent, or admitted and still being sent (by any
    replica), since ``since``; ``exclude``'s own admission aside. Waits for, then holds until the
    transaction ends, the patient's cap lock: call in the transaction that admits the next text."""
    await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", CAP_LOCK, str(patient_id))
    rows = await conn.fetch(
        "SELECT coalesce(sent_at, cap_admitted_at) AS at FROM deliveries WHERE patient_id = $1"
        " AND channel = 'sms' AND automated AND id <> $3 AND ("
        "   (status IN ('sent', 'delivered') AND sent_at >= $2)"
        "   OR (status = 'sending' AND cap_admitted_at >= $2))",
        patient_id,
        since,
        exclude,
    )
    return [r["at"] for r in rows]


async def admit_capped(conn: asyncpg.Connection, delivery_id: UUID, now: datetime) -> None:
    await conn.execute("UPDATE deliveries SET cap_admitted_at = $2 WHERE id = $1", delivery_id, now)


async def defer(
    conn: asyncpg.Connection | asyncpg.Pool, delivery_id: UUID, until: datetime, reason: str
) -> None:
    await conn.execute(
        "UPDATE deliveries SET status = 'queued', next_attempt_at = $2, reason = $3, updated_at = now()"
        " WHERE id = $1 AND status = 'sending'",
        delivery_id,
        until,
        reason,
    )


async def finish_unsent(
    conn: asyncpg.Connection, delivery_id: UUID, status: str, reason: str, now: datetime
) -> bool:
    """suppressed / cancelled / failed; False when the delivery had already left 'sending'."""
    result = await conn.execute(
        "UPDATE deliveries SET status = $2, reason = $3, last_error = CASE WHEN $2 = 'failed' THEN $3"
        " ELSE last_error END, failed_at = CASE WHEN $2 = 'failed' THEN $4 ELSE failed_at END,"
        " updated_at = $4 WHERE id = $1 AND status IN ('sending', 'sent')",
        delivery_id,
        status,
        reason,
        now,
    )
    return bool(result.endswith(" 1"))


async def record_attempt(
    conn: asyncpg.Connection,
    delivery_id: UUID,
    now: datetime,
    outcome: str,
    error_code: str | None = None,
    provider_id: str | None = None,
) -> int:
    """Count the try on the delivery and log it; returns the attempt number."""
    attempt: int = await conn.fetchval(
        "UPDATE deliveries SET attempts = attempts + 1 WHERE id = $1 RETURNING attempts", delivery_id
    )
    await conn.execute(
        "INSERT INTO delivery_attempts(delivery_id, attempt, attempted_at, outcome, error_code, provider_id)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        delivery_id,
        attempt,
        now,
        outcome,
        error_code,
        provider_id,
    )
    return attempt


@dataclass(frozen=True)
class Accepted:
    """A delivery a provider accepted, to be settled: the receipt and when, its audit record
    (``audit.entry`` values) and, unless None, its NotificationSent (``outbox.values``)."""

    delivery_id: UUID
    receipt: Receipt
    at: datetime
    audited: tuple[object, ...]
    announced: tuple[object, ...] | None


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


async def settle_sent(pool: asyncpg.Pool, accepted: Sequence[Accepted], relay: Wake) -> None:
    """Settle ``accepted`` (see ``_SETTLE_SENT``; the ``relay`` woken for their events:
    ``Emitter.wake``) in one statement and transaction of its own."""
    writes, head = settled(accepted, relay)
    await writes.run(pool, head)


def settled(accepted: Sequence[Accepted], relay: Wake) -> tuple[Writes, Part]:
    """``settle_sent``'s statement: (the writes, their head for ``db.composed``)."""
    head = (
        _SETTLE_SENT,
        (
            [a.delivery_id for a in accepted],
            [st.DELIVERED if a.receipt.delivered else st.SENT for a in accepted],
            [a.receipt.provider_id for a in accepted],
            [a.at for a in accepted],
        ),
    )
    parts = [*((audit.INSERT, a.audited) for a in accepted), *(w for a in accepted for w in a.receipt.writes)]
    writes = Writes(parts)
    if events := [a.announced for a in accepted if a.announced is not None]:
        writes += Writes([outbox.rows(events)], wakes=[relay])
    return writes, head


async def accepted_on_record(pool: asyncpg.Pool, delivery_id: UUID, provider_id: str) -> bool:
    """Whether a settle of this acceptance committed (its 'accepted' attempt is logged)."""
    found = await pool.fetchval(
        "SELECT EXISTS (SELECT 1 FROM delivery_attempts WHERE delivery_id = $1 AND outcome = 'accepted'"
        " AND provider_id = $2)",
        delivery_id,
        provider_id,
    )
    return bool(found)


async def retry_later(
    conn: asyncpg.Connection, delivery_id: UUID, at: datetime, error_code: str, now: datetime
) -> None:
    await conn.execute(
        "UPDATE deliveries SET status = 'queued', next_attempt_at = $2, last_error = $3, updated_at = $4"
        " WHERE id = $1 AND status = 'sending'",
        delivery_id,
        at,
        error_code,
        now,
    )


async def lock_by_provider(
    conn: asyncpg.Connection, provider_id: str | None, reference: str | None
) -> asyncpg.Record | None:
    """The delivery a provider callback is about (by its id, or by the reference we sent)."""
    if provider_id:
        row = await conn.fetchrow(
            "SELECT id, status FROM deliveries WHERE provider_id = $1 AND channel = 'sms' FOR UPDATE",
            provider_id,
        )
        if row is not None:
            return row
    if reference:
        try:
            ref = UUID(reference)
        except ValueError:
            return None
        return await conn.fetchrow(
            "SELECT id, status FROM deliveries WHERE id = $1 AND channel = 'sms' FOR UPDATE", ref
        )
    return None


async def load(conn: asyncpg.Connection, delivery_id: UUID) -> Delivery:
    row = await conn.fetchrow(DELIVERY_SELECT + " WHERE d.id = $1", delivery_id)
    assert row is not None
    return Delivery.from_row(row)


async def mark_delivered(
    conn: asyncpg.Connection, delivery_id: UUID, provider_id: str | None, now: datetime
) -> None:
    await conn.execute(
        "UPDATE deliveries SET status = 'delivered', delivered_at = $2,"
        " provider_id = COALESCE(provider_id, $3), updated_at = $2 WHERE id = $1",
        delivery_id,
        now,
        provider_id,
    )


async def record_status_report(
    conn: asyncpg.Connection,
    delivery_id: UUID,
    provider_status: str,
    error_code: str | None,
    applied: bool,
    now: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO delivery_status_reports(delivery_id, provider_status, error_code, applied, received_at)"
        " VALUES ($1, $2, $3, $4, $5)",
        delivery_id,
        provider_status,
        error_code,
        applied,
        now,
    )


async def cancel_queued(
    conn: asyncpg.Connection, appointment_id: UUID, notifications: Sequence[str], reason: str
) -> int:
    """Queued (not yet handed over) deliveries of these notifications for the appointment."""
    result = await conn.execute(
        "UPDATE deliveries SET status = 'cancelled', reason = $3, updated_at = now()"
        " WHERE appointment_id = $1 AND notification = ANY($2::text[]) AND status = 'queued'",
        appointment_id,
        list(notifications),
        reason,
    )
    return int(result.split()[-1])


async def cancel_automated_for_course(conn: asyncpg.Connection, course_id: UUID, reason: str) -> int:
    result = await conn.execute(
        "UPDATE deliveries SET status = 'cancelled', reason = $2, updated_at = now()"
        " WHERE course_id = $1 AND audience = 'patient' AND automated AND status = 'queued'",
        course_id,
        reason,
    )
    return int(result.split()[-1])


async def chain_failure(
    conn: asyncpg.Connection, event_id: UUID, patient_id: UUID | None, notification: str
) -> asyncpg.Record | None:
    """The latest failed delivery (id, channel, template_id, last_error) of this patient
    notification, if any."""
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT id, channel, template_id, last_error FROM deliveries WHERE event_id = $1"
        " AND patient_id IS NOT DISTINCT FROM $2 AND notification = $3 AND status = 'failed'"
        " ORDER BY failed_at DESC LIMIT 1",
        event_id,
        patient_id,
        notification,
    )
    return row


HISTORY = (
    "SELECT id, event_id, course_id, patient_id, staff_id, audience, notification, channel, template_id,"
    " template_version, locale, status, reason, attempts, last_error, provider_id, fallback_of, urgent,"
    " automated, created_at, next_attempt_at, sent_at, delivered_at, failed_at FROM deliveries"
)


After = tuple[datetime, UUID] | tuple[None, None]  # the (created_at, id) a page starts after
PAGE = " AND ($2::timestamptz IS NULL OR (created_at, id) > ($2, $3::uuid)) ORDER BY created_at, id LIMIT $4"


async def course_history(
    pool: asyncpg.Pool, course_id: UUID, after: After = (None, None), limit: int | None = None
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await pool.fetch(
        HISTORY + " WHERE course_id = $1" + PAGE, course_id, *after, limit
    )
    return rows


async def patient_history(
    pool: asyncpg.Pool, patient_id: UUID, after: After = (None, None), limit: int | None = None
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await pool.fetch(
        HISTORY + " WHERE patient_id = $1" + PAGE, patient_id, *after, limit
    )
    return rows


async def attempts_of(pool: asyncpg.Pool, delivery_ids: Sequence[UUID]) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await pool.fetch(
        "SELECT delivery_id, attempt, attempted_at, outcome, error_code, provider_id FROM delivery_attempts"
        " WHERE delivery_id = ANY($1::uuid[]) ORDER BY delivery_id, attempt",
        list(delivery_ids),
    )
    return rows


DELIVERIES_BY_STATUS = Gauge("katflow_deliveries", "Deliveries by channel and status", ["channel", "status"])


async def refresh_delivery_gauges(pool: asyncpg.Pool) -> None:
    """Scrape hook for /metrics: deliveries by channel and status."""
    for row in await pool.fetch("SELECT channel, status, count(*) AS n FROM deliveries GROUP BY 1, 2"):
        DELIVERIES_BY_STATUS.labels(row["channel"], row["status"]).set(row["n"])


async def retemplate(
    pool: asyncpg.Pool, delivery_id: UUID, template_id: str, version: int, locale: str
) -> None:
    """The patient chose another language after this delivery was planned: it goes in theirs."""
    await pool.execute(
        "UPDATE deliveries SET template_id = $2, template_version = $3, locale = $4 WHERE id = $1",
        delivery_id,
        template_id,
        version,
        locale,
    )
