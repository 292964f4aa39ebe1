"""The email writer (adapters/mime.py) against the email package: every email template, in every
locale, with and without 8BITMIME and SMTPUTF8, reads back (parsed by the email package) exactly as
the message the email package itself builds — headers, text and attachment; and lines stay within
the limits of RFC 5322."""

from __future__ import annotations

import email.policy
import email.utils
from email import message_from_bytes
from email.message import EmailMessage
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from katflow_notifications.adapters import mime
from katflow_notifications.domain.templates import Attachment, Rendered
from tests.unit.test_notifications_templates import FACTS, REGISTRY, env

EMAILS = [t for t in REGISTRY.all() if t.channel == "email"]
SENDER = "Care Team <care@clinic.example>"


def reference(to: str, rendered: Rendered) -> EmailMessage:
    """What the email package builds for the same message (how the channel built it before)."""
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"], msg["To"], msg["Subject"] = SENDER, to, rendered.subject
    msg["Message-ID"] = "<x@katflow>"
    msg.set_content(rendered.text)
    if a := rendered.attachment:
        maintype, subtype = a.mime_type.split("/")
        params = {"method": "CANCEL" if b"METHOD:CANCEL" in a.content else "REQUEST"}
        msg.add_attachment(
            a.content,
            maintype=maintype,
            subtype=subtype,
            filename=a.filename,
            params=params if a.mime_type == "text/calendar" else {},
        )
    return msg


def read(raw: bytes) -> dict[str, Any]:
    """What a mail reader sees of a message."""
    msg = message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    body = msg.get_body(("plain",))
    assert body is not None
    files = [
        (p.get_filename(), p.get_content_type(), p.get_param("method"), p.get_payload(decode=True))
        for p in msg.iter_attachments()
    ]
    return {
        "from": str(msg["From"]),
        "to": str(msg["To"]),
        "subject": str(msg["Subject"]),
        "text": body.get_content().replace("\r\n", "\n"),
        "files": files,
        "defects": [type(d).__name__ for p in msg.walk() for d in p.defects],
    }


def written(to: str, rendered: Rendered, eight_bit: bool = True, utf8: bool = False) -> bytes:
    raw = mime.message(
        SENDER,
        to,
        rendered.subject,
        "<x@katflow>",
        rendered.text,
        rendered.attachment,
        eight_bit=eight_bit,
        utf8=utf8,
    )
    for line in raw.split(b"\r\n"):
        assert len(line) <= mime.MAX_8BIT_LINE
        if not eight_bit:
            assert line.isascii()
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF only
    return raw


@pytest.mark.parametrize("template", EMAILS, ids=[t.id for t in EMAILS])
@pytest.mark.parametrize("eight_bit", [True, False])
def test_every_email_template_reads_as_the_email_package_builds_it(template: Any, eight_bit: bool) -> None:
    rendered = template.render(FACTS, env(template, "America/Chicago"))
    assert read(written("ana@example.org", rendered, eight_bit)) == read(
        reference("ana@example.org", rendered).as_bytes()
    )


def test_an_smtputf8_session_carries_a_non_ascii_address_as_it_is() -> None:
    rendered = Rendered("Su cita está confirmada", "Hola José:\n\nSu cita.\n")
    raw = written("josé@ejemplo.es", rendered, utf8=True)
    assert "To: josé@ejemplo.es".encode() in raw
    assert read(raw)["to"] == "josé@ejemplo.es" and read(raw)["subject"] == rendered.subject
    with pytest.raises(ValueError, match="SMTPUTF8"):
        written("josé@ejemplo.es", rendered, utf8=False)


def test_a_line_break_never_reaches_a_header() -> None:
    with pytest.raises(ValueError, match="line break"):
        written("ana@example.org", Rendered("Hello\r\nBcc: someone@else.example", "x"))


def test_addresses() -> None:
    assert mime.addr_spec("Care Team <care@clinic.example>") == "care@clinic.example"
    assert mime.addr_spec("ana@example.org") == "ana@example.org"
    with pytest.raises(ValueError):
        mime.addr_spec("not an address")


@settings(max_examples=500, deadline=None)
@given(st.from_regex(mime.PLAIN_ADDRESS, fullmatch=True))
def test_a_plain_address_skips_the_parser_and_is_what_the_parser_finds(address: str) -> None:
    assert mime.addr_spec(address) == address == email.utils.parseaddr(address)[1]


def test_a_value_that_is_not_a_plain_address_is_parsed() -> None:
    assert mime.PLAIN_ADDRESS.fullmatch("Ana <ana@example.org>") is None
    assert mime.addr_spec("Ana <ana@example.org>") == "ana@example.org"
    assert mime.addr_spec('"ana maria"@example.org') == '"ana maria"@example.org'
    assert mime.addr_spec("josé@ejemplo.es") == "josé@ejemplo.es"  # not ASCII: the parser's way
    with pytest.raises(ValueError):
        mime.addr_spec("ana.example.org")


TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\r"), max_size=400)


@settings(max_examples=300, deadline=None)
@example(subject="x", lines=["y"], eight_bit=True, attach=b"METHOD:CANCEL")  # found once
@given(
    subject=st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=150).filter(
        lambda s: s.strip() == s and "  " not in s
    ),
    lines=st.lists(TEXT, min_size=1, max_size=5),
    eight_bit=st.booleans(),
    attach=st.binary(max_size=300),
)
def test_any_subject_and_text_read_back_as_written(
    subject: str, lines: list[str], eight_bit: bool, attach: bytes
) -> None:
    text = "\n".join(lines) + "\n"
    attachment = Attachment("appointment.ics", "text/calendar", attach) if attach else None
    rendered = Rendered(subject, text, attachment)
    got = read(written("ana@example.org", rendered, eight_bit))
    assert got["subject"] == subject and got["text"] == text and got["defects"] == []
    method = "CANCEL" if b"METHOD:CANCEL" in attach else "REQUEST"
    assert got["files"] == ([("appointment.ics", "text/calendar", method, attach)] if attach else [])
