"""The deliveries table's queue: deliveries queued (with a unit of work's writes, waking the
dispatchers), and claimed when due under a lease, with what the dispatcher needs about their
recipient."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg

from katflow_shared.wakeup import Announcer
from katflow_shared.writes import Writes

from ..domain.deliveries import Delivery, NewDelivery

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


def woken(dispatching: Announcer) -> Writes:
    """The dispatchers woken: in-process once committed while this process's runs (``dispatching``,
    the announcer bootstrap gives the service's dispatcher; see ``Writes.run``), else by a NOTIFY at
    commit naming this process."""
    return Writes([], wakes=[dispatching.wake(ORIGIN)])


def queued(new: Sequence[NewDelivery], dispatching: Announcer) -> Writes:
    """Insert those whose idempotency key is new (one statement part), the dispatchers woken;
    nothing when there is nothing."""
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
    return [delivery(r) for r in rows]


async def load(conn: asyncpg.Connection, delivery_id: UUID) -> Delivery:
    row = await conn.fetchrow(DELIVERY_SELECT + " WHERE d.id = $1", delivery_id)
    assert row is not None
    return delivery(row)


def delivery(row: asyncpg.Record) -> Delivery:
    """A claimed or loaded row (``DELIVERY_COLUMNS``) as a Delivery: its recipient from the r_ columns."""
    names = [f for f in Delivery.__dataclass_fields__ if f not in ("facts", "recipient")]
    values = {n: row[n] for n in names}
    recipient = {k.removeprefix("r_"): row[k] for k in row.keys() if k.startswith("r_")}
    return Delivery(**values, facts=json.loads(row["context"]), recipient=recipient)
