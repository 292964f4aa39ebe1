"""The benchmark's SMTP sink (``bench.sink``, its own SMTP rather than aiosmtpd's) as the services'
email channel meets it: every message the client hands over is stamped once, with its recipient and
subject, and the session stays usable; commands out of order are refused as a relay would."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.sink import SinkReader, serve
from katflow_notifications.adapters.smtp_email import SmtpEmail
from katflow_notifications.domain.templates import Rendered
from katflow_notifications.ports import Outbound
from katflow_notifications.settings import NotificationsSettings
from tests.support.stack import free_port


@dataclass
class Sink:
    port: int
    reader: SinkReader


@pytest.fixture
async def sink(tmp_path: Path) -> AsyncIterator[Sink]:
    out_path, port, stop = tmp_path / "mail.tsv", free_port(), asyncio.Event()
    with out_path.open("a") as out:
        task = asyncio.create_task(serve(out, port, stop))
        for _ in range(100):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            except OSError:
                await asyncio.sleep(0.02)
        yield Sink(port, SinkReader(out_path))
        stop.set()
        await task


def email(to: str, subject: str, text: str = "Hello,\n\nWe have your request.\n") -> Outbound:
    return Outbound(uuid.uuid4(), to, Rendered(subject, text))


async def test_every_message_the_email_channel_sends_is_stamped_once(sink: Sink) -> None:
    smtp = SmtpEmail(
        NotificationsSettings(environment="test", smtp_port=sink.port, smtp_local_hostname="n.katflow.test")
    )
    sent = [
        email("a@example.org", "We received your request"),
        # a line of one dot, and lines starting with dots: dot-stuffed by the client, framing intact
        email("b@example.org", "Recibimos su solicitud — cita confirmada", "Hola,\n.\n..\n.start\n"),
        email("c@example.org", "A subject long enough that the email package folds it over lines " * 2),
    ]
    for message in sent:
        await smtp.send(message)
    await asyncio.gather(*(smtp.send(email(f"p{i}@example.org", f"Concurrent {i}")) for i in range(20)))
    await smtp.aclose()
    stamped = sink.reader.poll()
    assert [(m.rcpt, m.subject) for m in stamped[:3]] == [(m.to, m.message.subject.strip()) for m in sent]
    assert sorted(m.rcpt for m in stamped[3:]) == sorted(f"p{i}@example.org" for i in range(20))
    assert smtp.connections_opened <= 10  # sessions were reused: nothing was cut short


async def test_a_transaction_out_of_order_is_refused_and_the_session_goes_on(sink: Sink) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", sink.port)

    async def replies(n: int) -> list[bytes]:
        return [(await asyncio.wait_for(reader.readline(), 5))[:3] for _ in range(n)]

    assert await replies(1) == [b"220"]
    writer.write(b"MAIL FROM:<a@b.example>\r\n")
    assert await replies(1) == [b"503"]  # no greeting yet
    writer.write(b"EHLO client.example\r\n")
    ehlo = [await reader.readline() for _ in range(3)]
    assert ehlo[-1].startswith(b"250 ") and b"8BITMIME" in b"".join(ehlo)
    # sent ahead (pipelined): each answered, in order, and a refused step keeps what came before
    writer.write(b"RCPT TO:<x@y.example>\r\nDATA\r\nFROB\r\nMAIL FROM:<a@b.example> SIZE=99999999999\r\n")
    assert await replies(4) == [b"503", b"503", b"500", b"552"]
    writer.write(b"MAIL FROM:<a@b.example>\r\nMAIL FROM:<a@b.example>\r\nRSET\r\nMAIL FROM:<a@b.example>\r\n")
    assert await replies(4) == [b"250", b"503", b"250", b"250"]
    writer.write(b"RCPT TO:<x@y.example>\r\nDATA\r\n")
    assert await replies(2) == [b"250", b"354"]
    writer.write(b"Subject: one\r\n\r\n..\r\n")  # not the end: a stuffed dot
    writer.write(b"body\r\n.\r\nNOOP\r\n")
    assert await replies(2) == [b"250", b"250"]
    writer.write(b"MAIL FROM:<>\r\nRCPT TO:<z@y.example>\r\nDATA\r\n.\r\nQUIT\r\n")  # an empty message
    assert await replies(5) == [b"250", b"250", b"354", b"250", b"221"]
    assert await reader.read() == b""  # the server closed the session
    writer.close()
    assert [(m.rcpt, m.subject) for m in sink.reader.poll()] == [("x@y.example", "one"), ("z@y.example", "")]
