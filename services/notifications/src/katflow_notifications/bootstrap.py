"""notifications' composition root: settings → domain policy → adapters → service layer → app; the
service's (``build_app``, run by ``__main__``) and the patient page's alone (``build_portal_app``, run
by ``portal``)."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import FastAPI

from katflow_shared import timers
from katflow_shared.clock import Clock, clock_for
from katflow_shared.contracts.common import AppointmentKind
from katflow_shared.messaging.errors import PermanentError
from katflow_shared.runtime import Runtime, ServiceSpec, create_app
from katflow_shared.timers import TimerWorker
from katflow_shared.treatment_protocols import ProtocolBook, load_protocols
from katflow_shared.wakeup import Announcer

from .adapters.http_sms import HttpSms
from .adapters.integrator_webhook import IntegratorWebhook
from .adapters.postgres_feed import PostgresFeed
from .adapters.postgres_queue import DELIVERIES_CHANNEL
from .adapters.prometheus_deliveries import refresh_delivery_gauges
from .adapters.smtp_email import SmtpEmail
from .adapters.staff_webhook import StaffWebhook
from .adapters.twilio_sms import TwilioSms
from .domain.caps import FrequencyCap
from .domain.catalogue import staff_notifications
from .domain.intents import RemsFormDueDays
from .domain.policy import Policy
from .domain.quiet_hours import QuietHours
from .domain.reminders import ReminderPolicy, ReminderRule
from .domain.staff import StaffDirectory, load_staff
from .domain.templates import TemplateRegistry, default_registry
from .entrypoints import consumer, feed, http, http_portal, sms, sms_twilio
from .entrypoints.deps import NotificationsDeps
from .ports import Channel
from .service_layer.dispatch import Dispatcher
from .service_layer.inbound import InboundTexts
from .service_layer.link_purge import LinkPurge
from .service_layer.outcomes import Outcomes
from .service_layer.planning import Planner
from .service_layer.portal_links import LinkMinter
from .service_layer.reminders import Reminders
from .service_layer.targets import TargetResolver
from .service_layer.workflow_events import WorkflowEvents
from .settings import NotificationsSettings


def quiet_hours(settings: NotificationsSettings) -> QuietHours:
    return QuietHours.parse(settings.quiet_hours_start, settings.quiet_hours_end)


def policy(settings: NotificationsSettings) -> Policy:
    return Policy(
        quiet_hours(settings),
        frozenset(settings.quiet_hours_channels),
        FrequencyCap(settings.sms_daily_cap, settings.sms_weekly_cap),
        settings.sms_max_chars,
    )


def reminder_policy(settings: NotificationsSettings) -> ReminderPolicy:
    rules = [
        ReminderRule(f"appointment_reminder_{hours:g}h", timedelta(hours=hours))
        for hours in settings.reminder_hours_before
    ]
    plan_ahead = timedelta(hours=settings.plan_ahead_hours_before)
    rules.append(ReminderRule("plan_ahead", plan_ahead, frozenset({AppointmentKind.DOSING})))
    return ReminderPolicy(
        rules,
        quiet_hours(settings),
        min_notice=timedelta(minutes=settings.reminder_min_notice_minutes),
        latest_before_start=timedelta(minutes=settings.reminder_latest_before_start_minutes),
    )


def load_directory(settings: NotificationsSettings) -> StaffDirectory:
    staff = load_staff(settings.staff_directory)
    if missing := staff.unrouted(staff_notifications()):
        raise ValueError(f"{settings.staff_directory}: no staff routed for {', '.join(missing)}")
    return staff


def rems_form_due_days(protocols: ProtocolBook) -> RemsFormDueDays:
    """A session's REMS form deadline from its protocol. A version not on file cannot be fixed by
    retrying: the event is dead-lettered (replay it once that protocol file is deployed here)."""

    def days(protocol_version: str) -> int | None:
        try:
            return protocols.get(protocol_version).dosing.rems_form_due_days
        except KeyError as exc:
            raise PermanentError(f"protocol {protocol_version!r} is not on file") from exc

    return days


def reminders(settings: NotificationsSettings, planner: Planner, clock: Clock) -> Reminders:
    offsets = [timedelta(days=d) for d in settings.survey_days_after_course]
    return Reminders(
        reminder_policy(settings), offsets, quiet_hours(settings), settings.clinic_time_zone, planner, clock
    )


def dispatcher(
    runtime: Runtime, settings: NotificationsSettings, planner: Planner, templates: TemplateRegistry
) -> Dispatcher:
    """The dispatcher, woken by what the planner queues (its ``dispatching`` announcer)."""
    client = httpx.AsyncClient(follow_redirects=False)
    email = SmtpEmail(settings)
    twilio = TwilioSms(settings) if settings.sms_provider == "twilio" else None
    channels: dict[str, Channel] = {
        "email": email,
        "sms": twilio or HttpSms(settings, client),  # one SMS port, the adapter the settings choose
        "feed": PostgresFeed(),
        "staff_webhook": StaffWebhook(settings.staff_webhook_urls, client, settings.webhook_timeout_seconds),
        "webhook": IntegratorWebhook(
            {e.id: e for e in settings.integrator_webhooks},
            client,
            settings.webhook_timeout_seconds,
            runtime.clock.now,
        ),
    }
    return Dispatcher(
        runtime,
        settings,
        channels,
        policy(settings),
        TargetResolver(planner.staff, settings),
        templates,
        Outcomes(planner, runtime.emitter),
        on_close=[client.aclose, email.aclose, *([twilio.aclose] if twilio else [])],
        announcer=planner.dispatching,
        links=LinkMinter(settings),
    )


def build_app(settings: NotificationsSettings | None = None) -> FastAPI:
    settings = settings or NotificationsSettings()
    clock = clock_for(settings.environment, settings.clock_offset_file)
    templates = default_registry(settings.default_locale)
    # The announcers, once: what a unit of work queues wakes this process's dispatcher (the
    # planner's), what it schedules the timer worker (the units', ServiceSpec.timing), in-process.
    dispatching, timing = Announcer(DELIVERIES_CHANNEL), Announcer(timers.CHANNEL)
    planner = Planner(load_directory(settings), templates, settings, clock, dispatching)
    timed = reminders(settings, planner, clock)
    protocols = load_protocols(settings.protocols_dir)  # a bad file stops the service here
    events = WorkflowEvents(planner, timed, rems_form_due_days(protocols))
    app = create_app(
        ServiceSpec(
            settings=settings,
            migrations=["katflow_notifications"],
            routers=[http.router, sms.router, sms_twilio.router, feed.router, http_portal.router],
            handlers=consumer.handlers(events),
            workers=[
                lambda runtime: dispatcher(runtime, settings, planner, templates),
                lambda runtime: TimerWorker(runtime, timed.timer_handlers(), announcer=timing),
                lambda runtime: LinkPurge(runtime.pool, runtime.clock, settings),
            ],
            clock=clock,
            timing=timing,
            scrape=[refresh_delivery_gauges],
            title="katflow notifications",
            description="Messages to staff and patients: channels, consent, quiet hours, reminders, "
            "delivery tracking, staff feed and integrator webhooks.",
        )
    )
    app.state.notifications = NotificationsDeps(
        settings,
        planner,
        InboundTexts(
            planner, replies=settings.sms_provider != "twilio" or not settings.twilio_answers_keywords
        ),
        protocols,
    )
    return app


def build_portal_app(settings: NotificationsSettings | None = None) -> FastAPI:
    """The patient's page alone (``python -m katflow_notifications.portal``): the ``/portal/`` router
    with health and metrics, on the same package and database as notifications."""
    settings = settings or NotificationsSettings()
    clock = clock_for(settings.environment, settings.clock_offset_file)
    # no dispatcher runs here: what the page queues wakes the service's dispatchers by NOTIFY
    dispatching = Announcer(DELIVERIES_CHANNEL)
    planner = Planner(
        load_directory(settings), default_registry(settings.default_locale), settings, clock, dispatching
    )
    app = create_app(
        ServiceSpec(
            settings=settings,
            migrations=["katflow_notifications"],
            routers=[http_portal.router],
            clock=clock,
            title="katflow patient page",
            description="The patient's own page, reached from the signed link in every patient message.",
        )
    )
    protocols = load_protocols(settings.protocols_dir)
    app.state.notifications = NotificationsDeps(settings, planner, InboundTexts(planner), protocols)
    return app
