"""One structlog JSON setup for every service, with PHI redaction."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

# Keys whose values are PHI or secrets: never written to a log line.
PHI_KEYS = frozenset(
    {
        "given_name",
        "family_name",
        "name",
        "full_name",
        "email",
        "phone",
        "to",
        "recipient",
        "address",
        "date_of_birth",
        "dob",
        "body",
        "subject",
        "notes",
        "indication",
        "password",
        "token",
        "authorization",
        "contact",
        "patient",
        "first_name",
        "last_name",
        "phone_number",
        "from",
        "from_",
        "sender",
        "text",
        "message_text",
        "address_line",
        "postal_code",
        "diagnosis",
        "api_key",
        "secret",
        "cookie",
        "credentials",
    }
)
REDACTED = "[redacted]"


def _redacted(value: Any, depth: int = 0) -> Any:
    """Nested mappings and lists are redacted key by key (a few levels deep, then wholesale)."""
    if isinstance(value, Mapping):
        if depth > 3:
            return REDACTED
        return {
            k: REDACTED if str(k).lower() in PHI_KEYS else _redacted(v, depth + 1) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return REDACTED if depth > 3 else [_redacted(v, depth + 1) for v in value]
    return value


def redact_phi(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: the values of PHI and secret keys, at any nesting, become [redacted]."""
    for key in list(event_dict):
        if key.lower() in PHI_KEYS:
            event_dict[key] = REDACTED
        elif isinstance(event_dict[key], Mapping | list | tuple):
            event_dict[key] = _redacted(event_dict[key])
    return event_dict


def configure_logging(service: str, level: str = "INFO") -> None:
    logging.basicConfig(format="%(message)s", stream=sys.stdout, level=level.upper())
    for noisy in ("aiokafka", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_phi,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
