"""Turn intents into queued deliveries: the patient's first channel, every routed staff channel,
and signed pushes to integrators. Idempotent: a redelivered event queues nothing new. What is
queued goes with the unit of work's other writes (``uow.write``), the dispatchers woken once it
committed.

Messages are in the clinic's language (``default_locale``): no patient's own language is captured
yet (intake's form has no field for it, PatientContactUpdated carries none)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from uuid import UUID

from katflow_shared.clock import Clock
from katflow_shared.messaging.cloudevents import Envelope
from katflow_shared.messaging.errors import PermanentError
from katflow_shared.unit_of_work import UnitOfWork
from katflow_shared.wakeup import Announcer
from katflow_shared.writes import Writes

from ..adapters import postgres_queue as store
from ..domain.catalogue import NotificationType, lookup
from ..domain.deliveries import Delivery, NewDelivery
from ..domain.intents import Intent
from ..domain.staff import Member, StaffDirectory
from ..domain.templates import TemplateRegistry
from ..settings import NotificationsSettings


@dataclass(frozen=True)
class Planner:
    staff: StaffDirectory
    templates: TemplateRegistry
    settings: NotificationsSettings
    clock: Clock
    dispatching: Announcer  # wakes the dispatchers (this process's in-process while it runs)

    def plan(self, uow: UnitOfWork, intent: Intent, event_id: UUID, address: str | None = None) -> None:
        """Queue what ``intent`` calls for, with the unit's writes."""
        uow.write(self.queued(self.deliveries(intent, event_id, address)))

    def queued(self, new: list[NewDelivery]) -> Writes:
        """``new`` queued (one statement part), the dispatchers woken once committed."""
        return store.queued(new, self.dispatching)

    def deliveries(
        self, intent: Intent, event_id: UUID, address: str | None = None, booked: Member | None = None
    ) -> list[NewDelivery]:
        """The deliveries ``intent`` calls for: the patient's first channel, or every routed staff
        channel. ``booked``: the clinician the intent names, as the staff directory knows them
        (``postgres_staff.member``)."""
        ntype = lookup(intent.notification, intent.audience)
        if ntype.audience == "patient":
            return [self._patient(ntype, intent, event_id, address)]
        return self._staff(ntype, intent, event_id, booked)

    def _patient(
        self, ntype: NotificationType, intent: Intent, event_id: UUID, address: str | None
    ) -> NewDelivery:
        recipient = str(intent.patient_id or address)
        locale = self.settings.default_locale
        return self._delivery(ntype, intent, event_id, ntype.chain[0], recipient, locale, address=address)

    def _staff(
        self, ntype: NotificationType, intent: Intent, event_id: UUID, booked: Member | None = None
    ) -> list[NewDelivery]:
        rule = self.staff.routing.get(ntype.name)
        if rule is None:
            raise PermanentError(f"no staff routing rule for {ntype.name}")
        urgent = ntype.urgent or rule.urgent
        members = self.staff.recipients(ntype.name, booked)
        targets: list[tuple[str, str]] = [
            (m.id, ch) for m in members for ch in rule.channels if m.reaches(ch)
        ]
        targets += [
            (hook, "staff_webhook") for hook in rule.webhooks if hook in self.settings.staff_webhook_urls
        ]
        return [
            self._delivery(ntype, intent, event_id, channel, staff_id, "en", staff_id=staff_id, urgent=urgent)
            for staff_id, channel in targets
        ]

    def fall_back(self, uow: UnitOfWork, failed: Delivery, channel: str) -> None:
        """Queue the same patient message on the next channel of its chain."""
        ntype = lookup(failed.notification, "patient")
        intent = Intent(
            ntype.name, "patient", failed.course_id, failed.patient_id, failed.appointment_id, failed.facts
        )
        recipient = str(failed.patient_id or failed.address)
        new = self._delivery(
            ntype, intent, failed.event_id, channel, recipient, failed.locale, fallback_of=failed.id
        )
        uow.write(self.queued([new]))

    def staff_task(self, uow: UnitOfWork, failed: Delivery, error_code: str) -> None:
        """No consented channel reached the patient: the coordinator gets a task."""
        facts = {
            "course_id": str(failed.course_id or ""),
            "patient_id": str(failed.patient_id or ""),
            "delivery_id": str(failed.id),
            "failed_channel": failed.channel,
            "failed_template": failed.template_id,
            "error_code": error_code,
        }
        intent = Intent("delivery_failed", "staff", failed.course_id, None, None, facts)
        self.plan(uow, intent, failed.id)

    def integrator_pushes(self, envelope: Envelope) -> list[NewDelivery]:
        """A signed push of a workflow event to every integrator subscribed to it."""
        event = envelope.event
        if event.restricted:
            return []  # patient contact details never leave the service
        ntype = lookup("integrator_event", "integrator")
        course = getattr(event, "course_id", None)
        facts = {"event_json": structured_cloudevent(envelope), "event_type": envelope.type}
        intent = Intent(ntype.name, "integrator", course, None, None, facts)
        return [
            self._delivery(
                ntype, intent, UUID(envelope.id), "webhook", endpoint.id, "en", address=endpoint.id
            )
            for endpoint in self.settings.integrator_webhooks
            if not endpoint.event_types or event.name in endpoint.event_types
        ]

    def _delivery(
        self,
        ntype: NotificationType,
        intent: Intent,
        event_id: UUID,
        channel: str,
        recipient: str,
        locale: str,
        *,
        staff_id: str | None = None,
        address: str | None = None,
        urgent: bool = False,
        fallback_of: UUID | None = None,
    ) -> NewDelivery:
        template = self.templates.latest(ntype.name, ntype.audience, channel, locale)
        if template is None:
            raise PermanentError(f"no template for {ntype.name}/{ntype.audience}/{channel}")
        return NewDelivery(
            event_id=event_id,
            notification=ntype.name,
            audience=ntype.audience,
            channel=channel,
            template_family=template.family,
            template_id=template.id,
            template_version=template.version,
            locale=template.locale,
            recipient=recipient,
            facts=intent.facts,
            now=self.clock.now(),
            course_id=intent.course_id,
            patient_id=intent.patient_id if ntype.audience == "patient" else None,
            staff_id=staff_id,
            appointment_id=intent.appointment_id,
            address=address,
            urgent=urgent or ntype.urgent,
            automated=ntype.automated,
            exempt=ntype.exempt,
            fallback_of=fallback_of,
        )


def structured_cloudevent(envelope: Envelope) -> str:
    """The event in CloudEvents structured JSON form (what integrators receive)."""
    body = {
        "specversion": "1.0",
        "id": envelope.id,
        "source": envelope.source,
        "type": envelope.type,
        "subject": envelope.subject,
        "time": envelope.time.isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "data": envelope.event.model_dump(mode="json"),
    }
    if envelope.correlation_id:
        body["correlationid"] = envelope.correlation_id
    return json.dumps(body, separators=(",", ":"), sort_keys=True)
