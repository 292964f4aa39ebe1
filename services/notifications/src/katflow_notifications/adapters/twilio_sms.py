"""SMS through Twilio's Messages API with the official ``twilio`` library and its async client.

Behind the one SMS port (``ports.Channel``, channel ``sms``), chosen by ``KATFLOW_SMS_PROVIDER=twilio``.
Each text is created with a status callback (``{public_base_url}/v1/sms/twilio/status``): Twilio
reports queued/sent/delivered/undelivered/failed there, signed with ``X-Twilio-Signature``
(entrypoints/sms_twilio.py). Twilio's error answers are classified like any provider's: 429 and
5xx (and transport errors, timeouts) are transient and retried by the dispatcher, other 4xx
(21211 invalid number, 21610 unsubscribed recipient, ...) permanent. Twilio's Messages API takes no
idempotency key: a timeout after Twilio accepted a text and the retry that follows can send it
twice (rare; the dispatcher's timeout is ``KATFLOW_SMS_TIMEOUT_SECONDS``).
"""

from __future__ import annotations

from typing import Any

import aiohttp
from twilio.base.exceptions import TwilioRestException  # type: ignore[import-untyped]
from twilio.http.async_http_client import AsyncTwilioHttpClient  # type: ignore[import-untyped]
from twilio.rest import Client  # type: ignore[import-untyped]

from ..ports import ChannelPermanent, ChannelTransient, Outbound, Receipt
from ..settings import NotificationsSettings

STATUS_PATH = "/v1/sms/twilio/status"
INBOUND_PATH = "/v1/sms/twilio/inbound"


def status_callback_url(settings: NotificationsSettings) -> str:
    return f"{settings.public_base_url.rstrip('/')}{STATUS_PATH}"


class TwilioSms:
    def __init__(self, settings: NotificationsSettings) -> None:
        self.settings = settings
        self._client: Any = None  # made on first use, inside the event loop (aiohttp's session)

    def client(self) -> Any:
        if self._client is None:
            http = AsyncTwilioHttpClient(timeout=self.settings.sms_timeout_seconds)
            client = Client(
                self.settings.twilio_account_sid,
                self.settings.twilio_auth_token.get_secret_value(),
                http_client=http,
            )
            if self.settings.twilio_api_base_url:
                client.api.base_url = self.settings.twilio_api_base_url.rstrip("/")
            self._client = client
        return self._client

    async def send(self, outbound: Outbound) -> Receipt:
        if not self.settings.twilio_account_sid or not self.settings.twilio_auth_token.get_secret_value():
            raise ChannelPermanent("sms_not_configured")
        try:
            message = await self.client().api.v2010.account.messages.create_async(
                to=outbound.to,
                from_=self.settings.sms_sender,
                body=outbound.message.text,
                status_callback=status_callback_url(self.settings),
            )
        except TwilioRestException as exc:
            status = int(exc.status)
            code = f"sms_{status}" + (f"_{exc.code}" if exc.code else "")
            if status in (408, 425, 429) or status >= 500:
                raise ChannelTransient(code) from exc
            raise ChannelPermanent(code) from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise ChannelTransient(f"sms_{type(exc).__name__}") from exc
        return Receipt(str(message.sid) if message.sid else f"sms:{outbound.delivery_id}")

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.http_client.close()
