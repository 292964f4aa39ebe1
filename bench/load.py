"""Consultation requests over HTTP, matched to the emails the SMTP sink accepted.

Every request has its own patient address, so its acknowledgement ("We received your request") and
its booking confirmation ("Your appointment is confirmed") are found by recipient; the staff alert
("New consultation request") goes to the coordinator and is counted. Latency is measured from the
HTTP 202 (stamped when the response arrived) to the acknowledgement's acceptance by the sink.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import ConsumerRecord

from katflow_shared.contracts import topics

from .http1 import Http1Pool, TransportError
from .sink import Mail, SinkReader
from .stack import BenchStack
from .stats import Exactness, Summary, p99_by_window, rate
from .tap import Tap

ACK = "We received your request"
CONFIRMATION = "Your appointment is confirmed"
STAFF_ALERT = "New consultation request"
CALENDAR_FULL = "Booking waitlisted: calendar full"  # to staff, when a booking found no free slot


def consultation_request(email: str, n: int, route: str = "iv") -> dict[str, Any]:
    return {
        "patient": {
            "given_name": f"Given{n}",
            "family_name": f"Family{n}",
            "date_of_birth": "1980-02-03",
            "email": email,
            "time_zone": "America/Chicago",
        },
        "consent": {"email": True, "sms": False},
        "indication": "persistent low mood",
        "preferred_route": route,
    }


@dataclass
class Request:
    phase: str
    n: int
    email: str
    sent_at: float = 0.0
    accepted_at: float | None = None  # monotonic time of the 202
    course_id: str | None = None
    ack_at: float | None = None
    confirmed_at: float | None = None
    acks: int = 0
    confirmations: int = 0
    http_retries: int = 0

    @property
    def complete(self) -> bool:
        return self.ack_at is not None and self.confirmed_at is not None


class IntakeTap(Tap):
    """When each ConsultationRequested reached Kafka (its record timestamp), by course id: splits
    request→email into 202 → on Kafka (intake's outbox relay) and on Kafka → email (notifications)."""

    def __init__(self, stack: BenchStack) -> None:
        super().__init__(
            stack,
            topics.INTAKE,
            "bench-intake-tap",
            poll_ms=100,
            name="intake-tap",
            # it reads the records' own timestamps, so it may fetch in batches: answered at each
            # record (aiokafka's default), its fetches cost the shared broker as much as a service's
            fetch_max_wait_ms=200,  # well inside a phase's drain: the last records are in by then
            fetch_min_bytes=64 * 1024,
        )
        self.published: dict[str, float] = {}  # course id -> monotonic time
        self._skew = time.time() - time.monotonic()

    def _take(self, r: ConsumerRecord[bytes, bytes]) -> None:
        if r.key is not None and dict(r.headers).get("ce_type", b"").endswith(b".ConsultationRequested.v1"):
            self.published.setdefault(r.key.decode(), r.timestamp / 1000 - self._skew)


@dataclass
class Tracker:
    """Follows every request of the run; reads the sink and wakes whoever waits for completions."""

    mail: SinkReader
    by_email: dict[str, Request] = field(default_factory=dict)
    staff_alerts: int = 0
    other_mail: Counter[str] = field(default_factory=Counter)
    open: Counter[str] = field(default_factory=Counter)  # per phase: requests not yet complete
    completed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _task: asyncio.Task[None] | None = None

    @property
    def calendar_full(self) -> int:
        """Bookings waitlisted for want of a free slot: their requests never complete, and the run
        measures a full calendar from then on (the bench clinic is too small for it)."""
        return self.other_mail[CALENDAR_FULL]

    def add(self, request: Request) -> None:
        if request.email not in self.by_email:
            self.open[request.phase] += 1
        self.by_email[request.email] = request

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="mail-tracker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self.absorb(self.mail.poll())

    async def _run(self) -> None:
        while True:
            if self.absorb(self.mail.poll()):
                async with self.completed:
                    self.completed.notify_all()
            await asyncio.sleep(0.02)

    def absorb(self, mails: list[Mail]) -> bool:
        """Match new mail; True when some request completed."""
        any_completed = False
        for m in mails:
            req = self.by_email.get(m.rcpt)
            was_complete = req is not None and req.complete
            if m.subject == STAFF_ALERT:
                self.staff_alerts += 1
            elif req is not None and m.subject == ACK:
                req.acks += 1
                req.ack_at = req.ack_at or m.at
            elif req is not None and m.subject == CONFIRMATION:
                req.confirmations += 1
                req.confirmed_at = req.confirmed_at or m.at
            else:
                self.other_mail[m.subject] += 1
            if req is not None and req.complete and not was_complete:
                self.open[req.phase] -= 1
                any_completed = True
        return any_completed

    def of(self, phase: str) -> list[Request]:
        return [r for r in self.by_email.values() if r.phase == phase]


class Client:
    """POSTs consultation requests; retries transport errors and 5xx with the same Idempotency-Key."""

    def __init__(self, stack: BenchStack, tracker: Tracker, connections: int = 100) -> None:
        self.stack = stack
        self.tracker = tracker
        host, _, port = stack.url("intake").removeprefix("http://").partition(":")
        self.http = Http1Pool(host, int(port), connections)
        self.errors: Counter[str] = Counter()
        self.http_seconds: list[float] = []

    async def close(self) -> None:
        await self.http.close()

    async def submit(self, req: Request) -> None:
        self.tracker.add(req)
        body = consultation_request(req.email, req.n)
        headers = {"Idempotency-Key": f"{self.stack.prefix}{req.email}"}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            req.sent_at = time.monotonic()
            try:
                status, answer = await self.http.post_json("/v1/consultation-requests", body, headers)
            except TransportError as exc:
                self.errors[str(exc)] += 1
                req.http_retries += 1
                await asyncio.sleep(0.2)
                continue
            if status == 202:
                req.accepted_at = time.monotonic()
                self.http_seconds.append(req.accepted_at - req.sent_at)
                req.course_id = answer["course_id"]
                return
            self.errors[f"http_{status}"] += 1
            if status < 500 and status != 429:
                raise RuntimeError(f"request refused: {status} {str(answer)[:300]}")
            req.http_retries += 1
            await asyncio.sleep(0.5)
        raise RuntimeError(f"request {req.email} not accepted within 120 s")


def address(prefix: str, phase: str, n: int) -> str:
    return f"{phase}-{n}.{prefix.rstrip('.')}@example.org"


async def fixed_rate(
    client: Client, phase: str, per_second: float, seconds: float, max_backlog: int | None = None
) -> tuple[float, float, float | None]:
    """Open loop: request i is sent at start + i/rate whatever the answers do (no coordinated
    omission). If more than ``max_backlog`` requests are open end to end the rate is not being
    carried: sending stops there (an overload cut-off) rather than queueing minutes of backlog.
    Returns (start, end of sending, seconds into the phase of the cut-off or None)."""
    count = int(per_second * seconds)
    start = time.monotonic()
    tasks = []
    cut_off: float | None = None
    for n in range(count):
        delay = start + n / per_second - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if max_backlog is not None and n % 10 == 0:
            if client.tracker.open[phase] > max_backlog:
                cut_off = time.monotonic() - start
                break
        req = Request(phase, n, address(client.stack.prefix, phase, n))
        tasks.append(asyncio.create_task(client.submit(req)))
    end = time.monotonic()
    await asyncio.gather(*tasks)
    return start, end, cut_off


async def saturate(
    client: Client, phase: str, in_flight: int, seconds: float
) -> tuple[float, float, float | None]:
    """Closed loop: keep ``in_flight`` requests open end to end (202 sent, both patient emails not yet
    accepted), so the pipeline, not an unbounded backlog, sets the pace."""
    tracker = client.tracker
    start = time.monotonic()
    end = start + seconds
    tasks: list[asyncio.Task[None]] = []
    n = 0
    while time.monotonic() < end:
        for _ in range(in_flight - tracker.open[phase]):
            req = Request(phase, n, address(client.stack.prefix, phase, n))
            n += 1
            tasks.append(asyncio.create_task(client.submit(req)))
        async with tracker.completed:
            try:
                await asyncio.wait_for(tracker.completed.wait(), timeout=0.1)
            except TimeoutError:
                pass
    sending_ended = time.monotonic()
    await asyncio.gather(*tasks)
    return start, sending_ended, None


async def drain(tracker: Tracker, phase: str, within: float) -> bool:
    """Wait until every request of ``phase`` is complete: True; False if time runs out first, or
    once the calendar is full (the waitlisted requests will not complete)."""

    def complete() -> bool:
        return all(r.complete for r in tracker.of(phase))

    await _until(lambda: complete() or tracker.calendar_full > 0, within)
    return complete()


async def quiesce(tracker: Tracker, within: float) -> bool:
    """Wait until every request so far has its staff alert too (or time runs out). A phase is over
    when its requests' patient emails arrived, but staff alerts may still be queued behind them; the
    next phase starts on an idle pipeline, not on the last one's leftovers."""
    return await _until(lambda: tracker.staff_alerts >= len(tracker.by_email), within)


async def _until(condition: Callable[[], bool], within: float) -> bool:
    """True once ``condition`` holds (looked at every 0.1 s), False if ``within`` seconds pass first."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.1)
    return False


@dataclass(frozen=True)
class PhaseResult:
    phase: str
    offered: str
    requests: int
    seconds: float  # measurement window
    completed_in_window: int
    ack_latency: Summary
    confirmation_latency: Summary
    http_latency: Summary
    relay_latency: Summary  # 202 → ConsultationRequested on Kafka
    notify_latency: Summary  # ConsultationRequested on Kafka → acknowledgement email
    events: int  # records published on the workflow topics in the window
    deliveries: int  # records the services' consumer groups handled and committed in the window
    drained: bool
    incomplete: int  # requests still missing an email when the phase's drain ended
    cut_off: float | None  # fixed rate: seconds in when the backlog limit stopped sending
    replicas: dict[str, int]
    cpu_seconds: dict[str, float]  # CPU used in the window, per component
    ack_p99_windows: list[float | None]  # ack p99 of the requests accepted in each WINDOW_SECONDS

    @property
    def requests_per_second(self) -> float:
        return rate(self.completed_in_window, self.seconds)

    @property
    def events_per_second(self) -> float:
        return rate(self.events, self.seconds)

    @property
    def deliveries_per_second(self) -> float:
        return rate(self.deliveries, self.seconds)


def latencies(requests: list[Request], published: dict[str, float], censor_at: float) -> dict[str, Summary]:
    """request→ack email, request→confirmation email, HTTP, and the ack path split at Kafka. An email
    still missing at ``censor_at`` counts as ``censor_at - 202`` (so percentiles are then lower
    bounds, never flattered by leaving the slowest requests out)."""
    acks = [(r.ack_at or censor_at) - r.accepted_at for r in requests if r.accepted_at]
    confs = [(r.confirmed_at or censor_at) - r.accepted_at for r in requests if r.accepted_at]
    http = [r.accepted_at - r.sent_at for r in requests if r.accepted_at]
    relay, notify = [], []
    for r in requests:
        on_kafka = published.get(r.course_id or "")
        if on_kafka is not None and r.accepted_at is not None and r.ack_at is not None:
            relay.append(on_kafka - r.accepted_at)
            notify.append(r.ack_at - on_kafka)
    return {
        "ack": Summary.of(acks),
        "confirmation": Summary.of(confs),
        "http": Summary.of(http),
        "relay": Summary.of(relay),
        "notify": Summary.of(notify),
    }


WINDOW_SECONDS = 5.0


def ack_p99_windows(requests: list[Request], start: float, censor_at: float) -> list[float | None]:
    """The acknowledgement's p99 (censored as in ``latencies``) of the requests accepted in each
    WINDOW_SECONDS from ``start``: where in the phase the tail comes from (a stall, or all along)."""
    points = [
        (r.accepted_at - start, (r.ack_at or censor_at) - r.accepted_at) for r in requests if r.accepted_at
    ]
    return p99_by_window(points, WINDOW_SECONDS)


def completed_between(requests: list[Request], start: float, end: float) -> int:
    """Requests whose last patient email arrived inside [start, end)."""
    done = 0
    for r in requests:
        if (
            r.ack_at is not None
            and r.confirmed_at is not None
            and start <= max(r.ack_at, r.confirmed_at) < end
        ):
            done += 1
    return done


def exactness(tracker: Tracker, requests: list[Request]) -> dict[str, Exactness]:
    emails = [r.email for r in requests]
    return {
        "acknowledgement emails": Exactness.of(emails, {r.email: r.acks for r in requests}),
        "booking confirmations": Exactness.of(emails, {r.email: r.confirmations for r in requests}),
    }
