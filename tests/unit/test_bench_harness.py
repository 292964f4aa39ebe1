"""The benchmark harness's own parsing: the SMTP sink's subject reader and the load generator's
HTTP/1.1 response reader (both replaced library code to keep the harness off the measured CPUs);
the tracker's view of a full calendar, and the bench clinic's size."""

from __future__ import annotations

import asyncio
import json
import time
from email.message import EmailMessage
from pathlib import Path

import pytest

from bench.http1 import _response
from bench.load import ACK, CALENDAR_FULL, Request, Tracker, drain
from bench.sink import SinkReader, subject_of
from bench.stack import bench_clinic


def _message(subject: str) -> bytes:
    m = EmailMessage()
    m["From"] = "Clinic <noreply@clinic.example>"
    m["To"] = "patient@example.org"
    m["Subject"] = subject
    m.set_content("Body text.\nSubject: not this one\n")
    return m.as_bytes().replace(b"\n", b"\r\n")


@pytest.mark.parametrize(
    "subject",
    [
        "We received your request",
        "Recibimos su solicitud — cita confirmada",  # encoded-words
        "A subject long enough that the email package folds it over more than one line " * 2,
    ],
)
def test_the_sink_reads_the_subject_as_the_email_package_wrote_it(subject: str) -> None:
    assert subject_of(_message(subject)) == subject.strip()


def test_the_sink_reads_no_subject_from_the_body() -> None:
    assert subject_of(b"From: a@b.example\r\n\r\nSubject: in the body\r\n") == ""


def _read(raw: bytes) -> tuple[int, bool, bytes]:
    async def go() -> tuple[int, bool, bytes]:
        reader = asyncio.StreamReader()
        reader.feed_data(raw)
        reader.feed_eof()
        return await _response(reader)

    return asyncio.run(go())


def test_a_response_is_read_to_its_content_length() -> None:
    raw = b'HTTP/1.1 202 Accepted\r\ncontent-length: 11\r\ncontent-type: json\r\n\r\n{"a":"b"}  NEXT'
    assert _read(raw) == (202, True, b'{"a":"b"}  ')


def test_connection_close_is_honoured() -> None:
    raw = b"HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"
    assert _read(raw) == (429, False, b"{}")


def test_a_response_cut_short_or_without_length_is_an_error() -> None:
    with pytest.raises(asyncio.IncompleteReadError):
        _read(b"HTTP/1.1 202 Accepted\r\nContent-Length: 10\r\n\r\n{}")
    with pytest.raises(ValueError):
        _read(b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")


def _tracker(tmp_path: Path, lines: str) -> Tracker:
    path = tmp_path / "mail.tsv"
    path.write_text(lines)
    tracker = Tracker(SinkReader(path))
    tracker.add(Request("saturation", 1, "a@example.org"))
    tracker.absorb(tracker.mail.poll())
    return tracker


def test_a_full_calendar_ends_the_wait_for_requests_that_cannot_complete(tmp_path: Path) -> None:
    """Once a booking is waitlisted its request never gets a confirmation: waiting out the final
    drain's five minutes measured nothing (a long profile on a fast VM did, thirteenth round)."""
    mail = f"1.0\ta@example.org\t{ACK}\n1.1\tstaff@clinic.example\t{CALENDAR_FULL}\n"
    waitlisted = _tracker(tmp_path, mail)
    started = time.monotonic()
    assert asyncio.run(drain(waitlisted, "saturation", 30)) is False
    assert time.monotonic() - started < 5
    assert waitlisted.calendar_full == 1

    late = _tracker(tmp_path, f"1.0\ta@example.org\t{ACK}\n")
    assert asyncio.run(drain(late, "saturation", 0.3)) is False
    assert late.calendar_full == 0


def test_the_bench_clinic_holds_a_long_profile_on_a_fast_machine(tmp_path: Path) -> None:
    """~50,000 requests filled the weekday-only calendar (24 × 261 days × 8 hours = 50,112)."""
    clinic = json.loads(bench_clinic(tmp_path / "clinic.json").read_text())
    days_open = len(clinic["opening_hours"])
    consultants = sum("consultation" in c["roles"] for c in clinic["clinicians"])
    hours = 8  # 09:00-17:00, 60-minute consultations
    assert days_open == 7
    assert consultants * clinic["booking_horizon_days"] * hours > 65_000
