"""Sends due deliveries: policy decides (consent, quiet hours, caps), the template is rendered and
checked, the channel hands it over, and the outcome is recorded with its event.

A delivery is claimed under a lease (status 'sending'), so a crashed dispatcher's work returns to
the queue. The one window left is a crash after a provider accepted a message and before it was
marked sent: it is sent again with the same Message-ID / Idempotency-Key / webhook-id, which
providers that honour them deduplicate.

A delivery queued anywhere (consumer, timers, callbacks, fallbacks; this replica or another) wakes
the dispatcher; the poll remains for retries and deferrals falling due. What a unit of work of this
process queues (the planner's ``dispatching`` announcer, which is this dispatcher's ``announcer``)
wakes this process's dispatcher in-process once committed; a process without a dispatcher running
(the patient page alone, another replica's) NOTIFYs at commit, naming the process that queued: that
process's dispatcher claims at once, the other replicas' wait ``dispatch_peer_wait_seconds`` first
and claim what is left, instead of every replica claiming every delivery and all but one finding
nothing. Other replicas find what was announced in-process at their next poll
(``dispatch_poll_seconds``): a replica with no room still hands its work on, a little later.

Dispatch rolls: up to ``dispatch_concurrency`` deliveries are in flight, and one finished while that
room was wanted (the last claim filled it) makes room for the next claim at once, so a slow provider
(an SMS or webhook waiting out its timeout) holds back its own recipient, not the deliveries queued
behind it for others; urgent ones are claimed first. A finished delivery also wakes the claim when
the next of its lane may be waiting, or when it failed; otherwise (a staff alert, a feed item, with
room to spare) claiming again would find nothing the last claim left, and what falls due by time
(retries, deferrals, expired leases) waits for the poll. A recipient's messages (a lane) go one at a
time, in queue order: the claim takes only a lane's head, and nothing of a lane while one of its
deliveries is being sent (so a frequency cap sees the text sent just before).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import timedelta
from uuid import UUID

import structlog

from katflow_shared.messaging.errors import TRANSIENT_TYPES, classify
from katflow_shared.runtime import Runtime
from katflow_shared.wakeup import Announcer, Wakeup

from ..adapters import postgres_caps as caps
from ..adapters import postgres_outcomes as store
from ..adapters import postgres_queue as queue
from ..adapters import postgres_settle as settle
from ..domain.backoff import retry_delay
from ..domain.catalogue import lookup
from ..domain.deliveries import Delivery
from ..domain.policy import Decision, Defer, Policy, Send, Suppress, Target, Traits
from ..domain.templates import TemplateError, TemplateRegistry
from ..ports import Channel, ChannelPermanent, ChannelTransient, Outbound, Receipt
from ..settings import NotificationsSettings
from .outcomes import Outcomes
from .portal_links import LinkMinter
from .targets import TargetResolver

log = structlog.get_logger()
CAP_LOOKBACK = timedelta(days=8)


class Dispatcher:
    def __init__(
        self,
        runtime: Runtime,
        settings: NotificationsSettings,
        channels: Mapping[str, Channel],
        policy: Policy,
        targets: TargetResolver,
        templates: TemplateRegistry,
        outcomes: Outcomes,
        on_close: Sequence[Callable[[], Awaitable[None]]] = (),
        *,
        announcer: Announcer,
        links: LinkMinter | None = None,
    ) -> None:
        self.links = links  # patient messages link to the patient's page with a token of their own
        self.runtime = runtime
        self.units = runtime.units  # a failed or withheld delivery is settled in one
        self.queue_units = runtime.queue_units  # a sent one, with others, on the queue's sessions
        self.settings = settings
        self.channels = channels
        self.policy = policy
        self.targets = targets
        self.templates = templates
        self.outcomes = outcomes
        self.on_close = on_close
        self._stopping = False
        self._failure: BaseException | None = None
        self._full = False  # the last claim filled the room it had (or had none)
        self._wakeup = Wakeup(runtime.settings.database_url.get_secret_value(), queue.DELIVERIES_CHANNEL)
        self._origin = queue.ORIGIN  # what this process's NOTIFYs carry
        self.announcer = announcer  # this process's writers' (the planner's): told while we run

    async def run(self) -> None:
        """Dispatch until stop(): woken once a queued delivery committed (in-process, or by its
        NOTIFY from this replica or another) and by a delivery finished here when that can free
        something to claim (``_finished``), polling as well for retries and deferrals falling due.
        On stop, the deliveries in flight are finished, not abandoned. An error that is not a
        database or broker hiccup stops the loop (and the process), as before."""
        sending: set[asyncio.Task[None]] = set()
        self.announcer.attach(self._wakeup)
        try:
            while not self._stopping:
                if self._failure is not None:
                    raise self._failure
                free = self.settings.dispatch_concurrency - len(sending)
                claimed: list[Delivery] = []
                if free > 0:
                    try:
                        await self._wakeup.listen()  # before the claim: what commits after it wakes us
                        claimed = await self._claim(free)
                    except TRANSIENT_TYPES as exc:
                        log.warning("dispatcher_retry", error=type(exc).__name__)
                        self._wakeup.drop()
                        await asyncio.sleep(1)
                        continue
                    for d in claimed:
                        task = asyncio.create_task(self.deliver(d))
                        sending.add(task)
                        task.add_done_callback(functools.partial(self._finished, sending, d=d))
                self._full = free == len(claimed)  # no room, or a full claim: more may be due
                if not 0 < free == len(claimed):  # a full claim: there may be more due, claim again now
                    await self._leave_to_peer(await self._wakeup.wait(self.settings.dispatch_poll_seconds))
        finally:
            self.announcer.detach(self._wakeup)
            try:
                await asyncio.gather(*sending, return_exceptions=True)
            finally:  # also when shutdown ran out of time and cancelled them (their leases expire)
                await self._wakeup.close()
                for close in self.on_close:
                    await close()

    async def _leave_to_peer(self, notes: list[str] | None) -> None:
        """Woken only by NOTIFYs of other replicas (``notes``: their payloads): give their own
        dispatchers the peer wait to claim what they queued, gathering what else is announced. A
        NOTIFY of this process's, one without an origin (an older release), a wake from a delivery
        of ours finishing (``_finished``) or stop() ends the wait at once."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.dispatch_peer_wait_seconds
        while notes and all(n and n != self._origin for n in notes) and (left := deadline - loop.time()) > 0:
            notes = await self._wakeup.wait(left)

    def _finished(self, sending: set[asyncio.Task[None]], task: asyncio.Task[None], d: Delivery) -> None:
        """A delivery is done: claim again when that can find something the last claim could not —
        its room was wanted (the last claim was full, or there was no room), or the next of its lane
        may now be due. A delivery alone in its lane (a staff alert, a feed item) freed nothing else
        otherwise: claiming again would find nothing (what was queued since has woken us already)."""
        sending.discard(task)
        exc = None if task.cancelled() else task.exception()
        if self._full or d.shares_lane or exc is not None:
            self._wakeup.set()
        if exc is None:
            return
        if classify(exc) == "transient":  # the lease returns the delivery to the queue
            log.warning("dispatcher_retry", error=type(exc).__name__)
        elif self._failure is None:
            self._failure = exc

    async def stop(self) -> None:
        self._stopping = True
        self._wakeup.set()

    async def dispatch_once(self, limit: int | None = None) -> int:
        """Claim due deliveries (up to ``dispatch_concurrency``) and send them all, waiting for the
        last (for tools and tests that step the dispatcher; ``run`` rolls instead)."""
        claimed = await self._claim(limit or self.settings.dispatch_concurrency)
        await asyncio.gather(*(self.deliver(d) for d in claimed))
        return len(claimed)

    async def _claim(self, limit: int) -> list[Delivery]:
        """Claim up to ``limit`` due deliveries, at most one per lane (its head)."""
        s = self.settings
        return await queue.claim_due(
            self.runtime.queue,
            self.runtime.clock.now(),
            timedelta(seconds=s.delivery_lease_seconds),
            limit,
            timedelta(hours=s.recipient_wait_hours),
        )

    async def deliver(self, d: Delivery) -> None:
        d = await self._in_their_language(d)
        pool, now = self.runtime.pool, self.runtime.clock.now()
        traits = Traits(d.audience, d.channel, d.urgent, d.automated, d.exempt)
        target = await self.targets.resolve(pool, d)
        if self.policy.capped(traits) and d.patient_id is not None:
            decision = await self._decide_capped(d, d.patient_id, traits, target)
        else:
            decision = self.policy.decide(traits, target, now, ())
        if isinstance(decision, Defer):
            await store.defer(pool, d.id, decision.until, decision.reason)
            log.info("delivery_deferred", delivery_id=str(d.id), reason=decision.reason)
            return
        if isinstance(decision, Suppress):
            async with self.units.start() as uow:
                await self.outcomes.suppressed(uow, d, decision.reason)
            log.info("delivery_suppressed", delivery_id=str(d.id), reason=decision.reason)
            return
        try:
            receipt = await self._send(d, traits, target, decision.address)
        except ChannelTransient as exc:
            await self._transient(d, exc.code, exc.retry_after)
        except ChannelPermanent as exc:
            await self._permanent(d, exc.code)
        except TemplateError:
            await self._permanent(d, "template_error")
        except Exception as exc:  # unclassified: retried a bounded number of times, then failed
            log.error("delivery_error", delivery_id=str(d.id), error=type(exc).__name__)
            await self._transient(d, f"error_{type(exc).__name__}", None)
        else:
            await self._record_sent(d, receipt)
            log.info("delivery_sent", delivery_id=str(d.id), channel=d.channel, template=d.template_id)

    async def _in_their_language(self, d: Delivery) -> Delivery:
        """A patient's message goes in the language they chose on their page, as it is sent (queued
        ones too): the newest template of that language replaces the planned one, on the row too."""
        wanted = d.recipient.get("locale") if d.audience == "patient" else None
        if not wanted or wanted == d.locale:
            return d
        template = self.templates.latest(d.notification, "patient", d.channel, wanted)
        if template is None or template.locale == d.locale:
            return d
        await store.retemplate(self.runtime.pool, d.id, template.id, template.version, template.locale)
        return dataclasses.replace(
            d, template_id=template.id, template_version=template.version, locale=template.locale
        )

    async def _record_sent(self, d: Delivery, receipt: Receipt) -> None:
        """The provider accepted the message: record it, retrying through a database outage. Giving
        up would leave the delivery 'sending' until its lease ends, and the message would go out
        again; so retry for up to half the lease. Before each retry, check whether the failed try
        had committed after all (its accepted attempt is on record), so nothing is recorded twice."""
        loop, delay = asyncio.get_running_loop(), 0.5
        deadline = loop.time() + self.settings.delivery_lease_seconds / 2
        while True:
            try:
                await self.outcomes.sent(self.queue_units, d, receipt, self.runtime.clock.now())
                return
            except TRANSIENT_TYPES as exc:
                if loop.time() + delay > deadline:
                    raise
                log.warning("delivery_record_retry", delivery_id=str(d.id), error=type(exc).__name__)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
            with contextlib.suppress(*TRANSIENT_TYPES):
                if await settle.accepted_on_record(self.runtime.pool, d.id, receipt.provider_id):
                    return

    async def _decide_capped(self, d: Delivery, patient_id: UUID, traits: Traits, target: Target) -> Decision:
        """The frequency cap, exact across replicas: under the patient's lock, count the texts sent
        or admitted, and admit this one if it fits; the lock ends with this short transaction, the
        admission lasts until the text is settled (or is retried later, and decided again)."""
        async with self.runtime.pool.acquire() as conn, conn.transaction():
            now = self.runtime.clock.now()
            sent = await caps.sms_sent_times(conn, patient_id, now - CAP_LOOKBACK, d.id)
            decision = self.policy.decide(traits, target, now, sent)
            if isinstance(decision, Send):
                await caps.admit_capped(conn, d.id, now)
        return decision

    async def _send(self, d: Delivery, traits: Traits, target: Target, address: str) -> Receipt:
        template = self.templates.get(d.template_id, d.template_version)
        env = self.targets.render_env(d, target)
        rendered, unsubscribe = template.render(d.facts, env), None
        if self.links is not None and d.audience == "patient" and d.patient_id is not None:
            url = await self.links.url(self.runtime.pool, self.runtime.clock.now(), d.id, d.patient_id)
            linked = template.render(d.facts, dataclasses.replace(env, portal_url=url)) if url else rendered
            # the templates fit a text with its link (a KATFLOW_PORTAL_URL of up to 30 characters); one
            # a longer address or sender name would push past one segment keeps the bare address
            if self.policy.content_problem(traits, linked) is None:
                rendered = linked
            elif url:
                log.warning("portal_link_left_out", delivery_id=str(d.id), reason="sms_too_long")
            if url and d.channel == "email" and lookup(d.notification, "patient").optional:
                unsubscribe = self.links.unsubscribe_url(url)
        problem = self.policy.content_problem(traits, rendered)
        if problem is not None:
            raise ChannelPermanent(problem)
        channel = self.channels.get(d.channel)
        if channel is None:
            raise ChannelPermanent(f"{d.channel}_not_configured")
        about = d.patient_id or (UUID(d.facts["patient_id"]) if d.facts.get("patient_id") else None)
        outbound = Outbound(
            d.id, address, rendered, d.urgent, d.notification, d.course_id, unsubscribe, about
        )
        return await channel.send(outbound)

    async def _transient(self, d: Delivery, code: str, retry_after: float | None) -> None:
        s = self.settings
        async with self.units.start() as uow:
            attempt = await store.record_attempt(uow.conn, d.id, uow.now, "transient", code)
            if attempt >= s.delivery_max_attempts:
                await self.outcomes.failed(uow, d, f"{code}_attempts_exhausted")
                return
            delay = retry_delay(attempt, s.retry_base_seconds, s.retry_max_seconds, retry_after)
            await store.retry_later(uow.conn, d.id, uow.now + timedelta(seconds=delay), code, uow.now)
        log.warning("delivery_retry", delivery_id=str(d.id), error=code, attempt=attempt, delay=delay)

    async def _permanent(self, d: Delivery, code: str) -> None:
        async with self.units.start() as uow:
            await store.record_attempt(uow.conn, d.id, uow.now, "permanent", code)
            await self.outcomes.failed(uow, d, code)
        log.warning("delivery_failed", delivery_id=str(d.id), error=code)
