"""The benchmark harness's own parsing: the SMTP sink's subject reader and the load generator's
HTTP/1.1 response reader (both replaced library code to keep the harness off the measured CPUs)."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage

import pytest

from bench.http1 import _response
from bench.sink import subject_of


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
