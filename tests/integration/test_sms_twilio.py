"""The Twilio SMS adapter (official ``twilio`` library, its async client) against a local server that
speaks Twilio's Messages API (katflow_notifications.devtools.fake_twilio): what it sends, and how
Twilio's answers are classified for the dispatcher (transient: retried; permanent: fall back)."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator

import pytest

from katflow_notifications.adapters.twilio_sms import TwilioSms
from katflow_notifications.devtools.fake_twilio import DEV_ACCOUNT_SID, DEV_AUTH_TOKEN, FakeTwilio
from katflow_notifications.domain.templates.model import Rendered
from katflow_notifications.ports import ChannelPermanent, ChannelTransient, Outbound
from katflow_notifications.settings import NotificationsSettings

PHONE = "+15557654321"


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    server = FakeTwilio().start()
    yield server
    server.stop()


def _adapter(base_url: str, **overrides: str) -> TwilioSms:
    settings = {
        "environment": "test",
        "sms_provider": "twilio",
        "twilio_account_sid": DEV_ACCOUNT_SID,
        "twilio_auth_token": DEV_AUTH_TOKEN,
        "twilio_api_base_url": base_url,
        "sms_sender": "+15550100000",
        "sms_timeout_seconds": "5",
        "public_base_url": "https://notifications.clinic.example",
        **overrides,
    }
    return TwilioSms(NotificationsSettings(**settings))  # type: ignore[arg-type]


def _text(to: str = PHONE, text: str = "Your dose window opens today.") -> Outbound:
    return Outbound(uuid.uuid4(), to, Rendered("", text))


async def test_a_text_is_created_with_its_status_callback(fake: FakeTwilio) -> None:
    sms = _adapter(fake.url)
    try:
        receipt = await sms.send(_text())
    finally:
        await sms.aclose()
    [message] = fake.texts()
    assert receipt.provider_id == message.sid and message.sid.startswith("SM")
    assert (message.to, message.from_, message.body) == (
        PHONE,
        "+15550100000",
        "Your dose window opens today.",
    )
    assert message.status_callback == "https://notifications.clinic.example/v1/sms/twilio/status"


@pytest.mark.parametrize(
    ("scripted", "kind", "code"),
    [
        (429, ChannelTransient, "sms_429_20429"),
        (500, ChannelTransient, "sms_500_20500"),
        (503, ChannelTransient, "sms_503_20500"),
        (400, ChannelPermanent, "sms_400_21211"),
    ],
)
async def test_twilio_errors_are_transient_or_permanent(
    fake: FakeTwilio, scripted: int, kind: type[Exception], code: str
) -> None:
    fake.script(scripted)
    sms = _adapter(fake.url)
    try:
        with pytest.raises(kind) as raised:
            await sms.send(_text())
        assert raised.value.args[0] == code or getattr(raised.value, "code", None) == code
        await sms.send(_text())  # the next one goes through
    finally:
        await sms.aclose()
    assert len(fake.texts()) == 1


async def test_what_twilio_refuses_is_permanent(fake: FakeTwilio) -> None:
    fake.opted_out.add(PHONE)  # the recipient texted STOP: Twilio blocks the number
    sms = _adapter(fake.url)
    wrong = _adapter(fake.url, twilio_auth_token="not-the-token")
    try:
        with pytest.raises(ChannelPermanent) as unsubscribed:
            await sms.send(_text())
        with pytest.raises(ChannelPermanent) as invalid:
            await sms.send(_text(to="555-1234"))
        with pytest.raises(ChannelPermanent) as unauthenticated:
            await wrong.send(_text(to="+15550000001"))
    finally:
        await sms.aclose()
        await wrong.aclose()
    codes = [_code(e.value) for e in (unsubscribed, invalid, unauthenticated)]
    assert codes == ["sms_400_21610", "sms_400_21211", "sms_401_20003"]
    assert fake.texts() == []


async def test_twilio_unreachable_is_transient() -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sms = _adapter(f"http://127.0.0.1:{port}")
    try:
        with pytest.raises(ChannelTransient):
            await sms.send(_text())
    finally:
        await sms.aclose()


async def test_not_configured_is_permanent() -> None:
    sms = _adapter("http://127.0.0.1:9", twilio_account_sid="")
    with pytest.raises(ChannelPermanent) as raised:
        await sms.send(_text())
    assert _code(raised.value) == "sms_not_configured"


def _code(error: Exception) -> str:
    return str(getattr(error, "code", None) or error.args[0])
