"""Prod refuses what would leak PHI in transit or go live on a placeholder (issue 27): plaintext Kafka,
SMTP without TLS, a database without verified TLS, placeholder secrets in any case and at any depth,
http:// webhooks. Development and test settings keep starting on their defaults."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from katflow_intake.settings import IntakeSettings
from katflow_notifications.settings import NotificationsSettings
from katflow_scheduling.settings import SchedulingSettings
from katflow_shared.settings import ServiceSettings, is_placeholder

REAL_DB = "postgresql://intake:s3cr3t-value@db.internal:5432/intake?sslmode=verify-full"
PROD: dict[str, Any] = {"environment": "prod", "database_url": REAL_DB, "kafka_security_protocol": "SSL"}
OWNER_DB = "postgresql://intake_owner:0wner-s3cret@db.internal:5432/intake?sslmode=verify-full"
NOTIFICATIONS_PROD: dict[str, Any] = PROD | {
    "migration_database_url": OWNER_DB,
    "smtp_security": "starttls",
    "sms_webhook_secret": "whsec_cmVhbC1wcm9kLXNlY3JldC12YWx1ZQ==",
    "portal_link_secret": "a-real-portal-link-secret-0f9e8d7c6b5a",
}
TWILIO: dict[str, Any] = {
    "sms_provider": "twilio",
    "twilio_account_sid": "AC" + "1" * 32,
    "twilio_auth_token": "r3al-twilio-token",
    "public_base_url": "https://notifications.clinic.example",
}
PLACEHOLDERS = ["changeme", "CHANGEME", "ChangeMe", "change-me", "Change_Me", "<CHANGE-ME>", "changeme123"]


def test_the_reference_prod_settings_start() -> None:
    """The baseline every refusal below changes one thing of."""
    ServiceSettings(**PROD)
    ServiceSettings(**PROD | {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_password": "r3al-pw"})
    NotificationsSettings(**NOTIFICATIONS_PROD)


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SASL_PLAINTEXT"])
def test_prod_refuses_plaintext_kafka(protocol: str) -> None:
    with pytest.raises(ValidationError, match="KATFLOW_KAFKA_SECURITY_PROTOCOL"):
        ServiceSettings(**PROD | {"kafka_security_protocol": protocol, "kafka_sasl_password": "r3al-pw"})


@pytest.mark.parametrize(
    "query", ["", "?sslmode=disable", "?sslmode=prefer", "?sslmode=require", "?sslmode=verify-ca"]
)
def test_prod_refuses_a_database_url_without_verified_tls(query: str) -> None:
    url = f"postgresql://intake:s3cr3t-value@db.internal:5432/intake{query}"
    with pytest.raises(ValidationError, match="KATFLOW_DATABASE_URL must verify"):
        ServiceSettings(**PROD | {"database_url": url})


@pytest.mark.parametrize("password", [*PLACEHOLDERS, "Change%2DMe"])
def test_prod_refuses_a_placeholder_database_password_in_any_case(password: str) -> None:
    url = f"postgresql://intake:{password}@db.internal:5432/intake?sslmode=verify-full"
    with pytest.raises(ValidationError, match="KATFLOW_DATABASE_URL (is|uses) a placeholder"):
        ServiceSettings(**PROD | {"database_url": url})


@pytest.mark.parametrize("settings_class", [IntakeSettings, SchedulingSettings, NotificationsSettings])
@pytest.mark.parametrize(
    ("owner", "refusal"),
    [
        ("", "is required in prod"),
        (REAL_DB, "names the service's own role"),
        (OWNER_DB.replace("0wner-s3cret", "changeme"), "placeholder"),
        (OWNER_DB.replace("verify-full", "require"), "must verify"),
    ],
)
def test_prod_refuses_a_service_that_would_own_its_audit_trail(
    settings_class: type[ServiceSettings], owner: str, refusal: str
) -> None:
    """Issue 27: the migration role was optional, so a prod deployment that left it out ran as its
    tables' owner, able to disable the audit trail's append-only triggers. Tools that never connect
    to a database (``katflow topics``, on the base settings) need none."""
    base = (
        NOTIFICATIONS_PROD
        if settings_class is NotificationsSettings
        else PROD | {"migration_database_url": OWNER_DB}
    )
    settings_class(**base)
    with pytest.raises(ValidationError, match=f"KATFLOW_MIGRATION_DATABASE_URL .*{refusal}"):
        settings_class(**base | {"migration_database_url": owner})
    ServiceSettings(**PROD)


def test_prod_refuses_smtp_without_tls() -> None:
    with pytest.raises(ValidationError, match="KATFLOW_SMTP_SECURITY"):
        NotificationsSettings(**NOTIFICATIONS_PROD | {"smtp_security": "none"})
    for security in ("starttls", "tls"):
        NotificationsSettings(**NOTIFICATIONS_PROD | {"smtp_security": security})


@pytest.mark.parametrize("placeholder", PLACEHOLDERS)
def test_prod_refuses_placeholder_secrets_in_any_case(placeholder: str) -> None:
    with pytest.raises(ValidationError, match="KATFLOW_KAFKA_SASL_PASSWORD is a placeholder"):
        ServiceSettings(**PROD | {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_password": placeholder})
    with pytest.raises(ValidationError, match="KATFLOW_SMTP_PASSWORD is a placeholder"):
        NotificationsSettings(**NOTIFICATIONS_PROD | {"smtp_password": placeholder})
    with pytest.raises(ValidationError, match="KATFLOW_SMS_API_KEY is a placeholder"):
        NotificationsSettings(
            **NOTIFICATIONS_PROD | {"sms_base_url": "https://sms.example", "sms_api_key": placeholder}
        )


def test_prod_refuses_placeholder_secrets_in_nested_settings() -> None:
    endpoint = {"id": "ehr-sync", "url": "https://ehr.example/katflow", "secret": "CHANGEME"}
    with pytest.raises(ValidationError, match=r"KATFLOW_INTEGRATOR_WEBHOOKS\[0\]\.secret is a placeholder"):
        NotificationsSettings(**NOTIFICATIONS_PROD | {"integrator_webhooks": [endpoint]})
    with pytest.raises(ValidationError, match=r"KATFLOW_STAFF_WEBHOOK_URLS\['oncall'\] is a placeholder"):
        NotificationsSettings(**NOTIFICATIONS_PROD | {"staff_webhook_urls": {"oncall": "Change-Me"}})
    real = endpoint | {"secret": "whsec_cmVhbC1pbnRlZ3JhdG9yLXNlY3JldA=="}
    NotificationsSettings(**NOTIFICATIONS_PROD | {"integrator_webhooks": [real]})


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        (
            {
                "integrator_webhooks": [
                    {"id": "ehr", "url": "http://ehr.example/k", "secret": "whsec_cmVhbA=="}
                ]
            },
            r"KATFLOW_INTEGRATOR_WEBHOOKS\['ehr'\]\.url",
        ),
        (
            {"staff_webhook_urls": {"oncall": "http://hooks.example/T0/B0/x"}},
            r"KATFLOW_STAFF_WEBHOOK_URLS\['oncall'\]",
        ),
        ({"sms_base_url": "http://sms.example", "sms_api_key": "r3al-k3y"}, "KATFLOW_SMS_BASE_URL"),
        (TWILIO | {"public_base_url": "http://notifications.clinic.example"}, "KATFLOW_PUBLIC_BASE_URL"),
        (TWILIO | {"twilio_api_base_url": "http://127.0.0.1:8090"}, "KATFLOW_TWILIO_API_BASE_URL"),
    ],
    ids=["integrator", "staff", "sms-provider", "twilio-callbacks", "twilio-api"],
)
def test_prod_refuses_http_webhooks(changes: dict[str, Any], where: str) -> None:
    with pytest.raises(ValidationError, match=f"{where} must be an https:// URL"):
        NotificationsSettings(**NOTIFICATIONS_PROD | changes)


def test_prod_twilio_needs_its_auth_token_and_https() -> None:
    NotificationsSettings(**NOTIFICATIONS_PROD | TWILIO)
    with pytest.raises(ValidationError, match="KATFLOW_TWILIO_AUTH_TOKEN must be set"):
        NotificationsSettings(**NOTIFICATIONS_PROD | TWILIO | {"twilio_auth_token": ""})


def test_development_and_test_settings_still_start_on_their_defaults() -> None:
    """Plaintext Kafka and SMTP, the local database URL and http:// test receivers stay fine off prod."""
    for environment in ("dev", "test"):
        for cls in (ServiceSettings, IntakeSettings, SchedulingSettings, NotificationsSettings):
            settings = cls(environment=environment)
            assert settings.kafka_security_protocol == "PLAINTEXT"
        endpoint = {"id": "ehr", "url": "http://127.0.0.1:9/k", "secret": "changeme"}
        NotificationsSettings(environment=environment, integrator_webhooks=[endpoint])


def test_placeholder_words_are_recognised_whatever_their_case_and_punctuation() -> None:
    assert all(is_placeholder(p) for p in [*PLACEHOLDERS, "SECRET", "Password", "KATFLOW", "replace_me"])
    assert not any(is_placeholder(v) for v in ["", "s3cr3t-value", "whsec_cmVhbA==", "Xq9-secretive-7"])
