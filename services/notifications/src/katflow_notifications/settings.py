"""Notifications settings (environment prefix KATFLOW_). Policy numbers are defaults a clinic sets."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from katflow_shared.contracts.common import TimeZoneName
from katflow_shared.settings import PLACEHOLDER_SECRETS, ServiceSettings

DEFAULT_STAFF = Path(__file__).parent / "config" / "staff.json"
DEV_PORTAL_SECRET = "dev-only-portal-link-secret-for-local-tests"
DEV_WEBHOOK_SECRET = "whsec_ZGV2LW9ubHktc2VjcmV0LWZvci1sb2NhbC10ZXN0cw=="  # base64("dev-only-secret-...")


class IntegratorEndpoint(BaseModel):
    """An integrator that wants pushes: signed (Standard Webhooks) POSTs of workflow events."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(description="Stable name of the endpoint, e.g. 'ehr-sync'.")
    url: str = Field(description="HTTPS URL the events are POSTed to.")
    secret: SecretStr = Field(description="Signing secret ('whsec_' + base64, as Standard Webhooks).")
    event_types: list[str] = Field(
        default_factory=list, description="Event names to push (e.g. 'AppointmentScheduled'); empty: all."
    )


class NotificationsSettings(ServiceSettings):
    owns_database: ClassVar[bool] = True

    service_name: str = Field("notifications", description="Service name.")
    http_port: int = Field(8003, description="Port the notifications HTTP API listens on.")
    # --- email
    smtp_host: str = Field("127.0.0.1", description="SMTP server host.")
    smtp_port: int = Field(1025, description="SMTP server port.")
    smtp_security: Literal["none", "starttls", "tls"] = Field(
        "none", description="SMTP transport security (prod refuses none)."
    )
    smtp_username: str = Field("", description="SMTP username (empty: no AUTH).")
    smtp_password: SecretStr = Field(SecretStr(""), description="SMTP password.")
    smtp_timeout_seconds: float = Field(15.0, description="SMTP connect/send timeout.")
    smtp_max_connections: int = Field(
        10, ge=1, description="Open SMTP sessions kept and reused at most (also the most sent at once)."
    )
    smtp_idle_seconds: float = Field(
        30.0, gt=0, description="An SMTP session unused this long is closed instead of reused."
    )
    smtp_local_hostname: str = Field(
        "", description="Name given in EHLO (empty: this host's fully qualified name, looked up once)."
    )
    mail_from: str = Field("Care Team <care@clinic.example>", description="Neutral sender of every email.")
    # --- SMS provider (HTTP)
    sms_base_url: str = Field("", description="SMS provider API base URL (empty: SMS channel disabled).")
    sms_api_key: SecretStr = Field(SecretStr(""), description="SMS provider API key (Bearer token).")
    sms_sender: str = Field("+15550100000", description="Sending number or short code.")
    sms_timeout_seconds: float = Field(10.0, description="SMS provider request timeout.")
    sms_webhook_secret: SecretStr = Field(
        SecretStr(DEV_WEBHOOK_SECRET),
        description="Secret the provider signs status callbacks and inbound texts with (Standard Webhooks).",
    )
    sms_provider: Literal["http", "twilio"] = Field(
        "http",
        description="SMS adapter: http (KATFLOW_SMS_BASE_URL, Standard Webhooks) or twilio"
        " (the KATFLOW_TWILIO_* settings, Twilio's request signatures on /v1/sms/twilio/*).",
    )
    twilio_account_sid: str = Field("", description="Twilio Account SID (AC...); empty: Twilio SMS disabled.")
    twilio_auth_token: SecretStr = Field(
        SecretStr(""), description="Twilio auth token: authenticates sends and verifies X-Twilio-Signature."
    )
    twilio_answers_keywords: bool = Field(
        True,
        description="Twilio answers STOP/START/HELP itself (its default opt-out handling): katflow records"
        " consent and tells staff but sends no reply of its own. False: katflow replies.",
    )
    twilio_api_base_url: str = Field(
        "", description="Twilio REST API base URL (empty: https://api.twilio.com; a local fake in tests)."
    )
    webhook_tolerance_seconds: int = Field(300, description="Accepted clock skew of signed inbound webhooks.")
    public_base_url: str = Field(
        "http://127.0.0.1:8003", description="This service's public URL (for provider status callbacks)."
    )
    # --- staff and integrator webhooks
    staff_webhook_urls: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Slack-compatible incoming webhook URL per name used in staff.json routing.",
    )
    integrator_webhooks: list[IntegratorEndpoint] = Field(
        default_factory=list, description="Integrator endpoints receiving signed event pushes (JSON list)."
    )
    webhook_timeout_seconds: float = Field(10.0, description="Outbound webhook request timeout.")
    # --- content
    portal_url: str = Field(
        "https://portal.clinic.example",
        description="The patient page's public address; messages link to <this>/p/<token>. Up to 30"
        " characters lets every text carry the personal link within 160 characters.",
    )
    portal_link_secret: SecretStr = Field(
        SecretStr(DEV_PORTAL_SECRET),
        description="Key the patient page's links and session cookies are signed with (HMAC-SHA256). "
        "Changing it invalidates every link sent.",
    )
    portal_link_days: int = Field(14, ge=1, le=90, description="How long a message's page link works.")
    portal_link_keep_days: int = Field(
        90,
        ge=0,
        le=3650,
        description="Days an expired or turned-off page link is kept before it is deleted: its"
        " one-click unsubscribe keeps working until then.",
    )
    portal_session_minutes: int = Field(
        30, ge=1, le=240, description="How long the page stays open after the second factor passed."
    )
    portal_rate_limit_per_minute: int = Field(
        60, ge=1, description="Patient page requests per client address per minute (per process)."
    )
    staff_console_url: str = Field("https://staff.clinic.example", description="Staff console link.")
    clinic_phone: str = Field("+1 555 010 0000", description="Number patients can call (HELP reply).")
    sender_name: str = Field("Care Team", description="Neutral sender name at the start of texts.")
    default_locale: str = Field("en", description="Template locale when a recipient has none.")
    clinic_time_zone: TimeZoneName = Field("America/New_York", description="Zone for staff without one.")
    staff_directory: Path = Field(DEFAULT_STAFF, description="JSON file: staff, roles and routing rules.")
    protocols_dir: Path | None = Field(
        None,
        description="Directory of protocol files (default: the versioned files shipped in katflow_shared).",
    )
    # --- policy
    quiet_hours_start: str = Field("21:00", description="Quiet hours start, recipient local time.")
    quiet_hours_end: str = Field("08:00", description="Quiet hours end, recipient local time.")
    quiet_hours_channels: list[str] = Field(
        default_factory=lambda: ["sms", "staff_webhook"],
        description="Channels whose non-urgent messages wait for the end of quiet hours.",
    )
    sms_daily_cap: int = Field(1, description="Automated texts per patient per local day.")
    sms_weekly_cap: int = Field(3, description="Automated texts per patient per seven local days.")
    sms_max_chars: int = Field(160, description="Longest patient text (one segment).")
    reminder_hours_before: list[float] = Field(
        default_factory=lambda: [24.0, 2.0], description="Appointment reminders, hours before the start."
    )
    plan_ahead_hours_before: float = Field(48.0, description="Plan-ahead reminder before a dosing visit.")
    reminder_min_notice_minutes: int = Field(
        60, description="Skip a reminder that would fall due this soon after the booking."
    )
    reminder_latest_before_start_minutes: int = Field(
        30, description="Drop a reminder that quiet hours would push closer than this to the start."
    )
    survey_days_after_course: list[int] = Field(
        default_factory=lambda: [0, 30, 91, 182], description="Outcome surveys, days after CourseCompleted."
    )
    # --- delivery
    dispatch_poll_seconds: float = Field(
        0.2,
        description="How often the dispatcher looks for due deliveries: the longest a retry, a deferral or "
        "an expired lease waits once due, and how soon a replica takes over what another, busy one "
        "queued.",
    )
    dispatch_peer_wait_seconds: float = Field(
        0.05,
        ge=0,
        description="How long a dispatcher woken only by deliveries another replica queued leaves them "
        "to that replica's dispatcher before claiming what is left (one claim for many instead of "
        "every replica claiming every delivery; 0: claim at once).",
    )
    dispatch_concurrency: int = Field(
        20,
        ge=1,
        description="Deliveries each replica sends at once (a recipient's own messages go one at a time).",
    )
    delivery_max_attempts: int = Field(8, description="Attempts before a transient failure becomes final.")
    retry_base_seconds: float = Field(2.0, description="First retry delay; doubles each attempt.")
    retry_max_seconds: float = Field(300.0, description="Cap of the retry delay.")
    recipient_wait_hours: float = Field(
        24.0, description="A patient message waits this long for contact details, then is suppressed."
    )
    delivery_lease_seconds: int = Field(
        120, description="A claimed delivery returns to the queue after this."
    )
    feed_poll_seconds: float = Field(0.5, description="How often an SSE stream looks for new feed items.")
    feed_stream_max_seconds: float = Field(
        300.0, description="An SSE stream ends after this; clients reconnect with Last-Event-ID."
    )

    @model_validator(mode="after")
    def _refuse_dev_secrets_in_prod(self) -> NotificationsSettings:
        if self.environment != "prod":
            return self
        if self.sms_webhook_secret.get_secret_value() in PLACEHOLDER_SECRETS | {DEV_WEBHOOK_SECRET}:
            raise ValueError("KATFLOW_SMS_WEBHOOK_SECRET must be set to a real secret in prod")
        if self.portal_link_secret.get_secret_value() in PLACEHOLDER_SECRETS | {DEV_PORTAL_SECRET}:
            raise ValueError("KATFLOW_PORTAL_LINK_SECRET must be set to a real secret in prod")
        if self.sms_provider == "twilio" and not self.twilio_auth_token.get_secret_value():
            raise ValueError("KATFLOW_TWILIO_AUTH_TOKEN must be set when SMS goes through Twilio")
        if self.sms_base_url and not self.sms_api_key.get_secret_value():
            raise ValueError("KATFLOW_SMS_API_KEY must be set when an SMS provider is configured")
        if self.smtp_security == "none":
            raise ValueError("in prod KATFLOW_SMTP_SECURITY must be starttls or tls (email carries PHI)")
        urls = {"KATFLOW_SMS_BASE_URL": self.sms_base_url} if self.sms_base_url else {}
        if self.sms_provider == "twilio":  # the address Twilio calls back (and signs), and Twilio's API
            urls["KATFLOW_PUBLIC_BASE_URL"] = self.public_base_url
            if self.twilio_api_base_url:
                urls["KATFLOW_TWILIO_API_BASE_URL"] = self.twilio_api_base_url
        urls |= {f"KATFLOW_INTEGRATOR_WEBHOOKS[{e.id!r}].url": e.url for e in self.integrator_webhooks}
        urls |= {
            f"KATFLOW_STAFF_WEBHOOK_URLS[{n!r}]": u.get_secret_value()
            for n, u in self.staff_webhook_urls.items()
        }
        for where, url in urls.items():
            if not url.lower().startswith("https://"):
                raise ValueError(f"in prod {where} must be an https:// URL")
        return self
