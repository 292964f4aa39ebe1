"""iCalendar (RFC 5545 / iTIP) attachments: REQUEST for bookings and moves, CANCEL for cancellations."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import RenderEnv


@functools.lru_cache(maxsize=16)  # the organizer is the service's own sender: parsed once
def _parsed(organizer: str) -> tuple[str, str]:
    return parseaddr(organizer)


def _stamp(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _text(value: str) -> str:
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> str:
    """Lines longer than 75 octets continue on the next line after a space (RFC 5545 3.1)."""
    raw = line.encode()
    if len(raw) <= 75:
        return line
    parts: list[str] = []
    chunk = b""
    for char in line:
        encoded = char.encode()
        if len(chunk) + len(encoded) > (75 if not parts else 74):
            parts.append(chunk.decode())
            chunk = b""
        chunk += encoded
    parts.append(chunk.decode())
    return "\r\n ".join(parts)


def calendar_attachment(method: str, facts: Mapping[str, str], env: RenderEnv, summary: str) -> bytes:
    name, address = _parsed(env.organizer)
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//katflow//notifications//EN",
        f"METHOD:{method}",
        "BEGIN:VEVENT",
        f"UID:{facts['appointment_id']}@katflow",
        f"SEQUENCE:{facts.get('sequence', '0')}",
        f"DTSTAMP:{_stamp(facts['created_at'])}",
        f"DTSTART:{_stamp(facts['starts_at'])}",
    ]
    if "ends_at" in facts:
        lines.append(f"DTEND:{_stamp(facts['ends_at'])}")
    lines += [
        f"ORGANIZER;CN={_text(name or env.sender)}:mailto:{address}",
        f"SUMMARY:{_text(summary)}",
        f"DESCRIPTION:{_text(env.portal_url)}",
        f"STATUS:{'CANCELLED' if method == 'CANCEL' else 'CONFIRMED'}",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return ("\r\n".join(_fold(line) for line in lines) + "\r\n").encode()
