"""SMS through an HTTP provider (a common request shape; adapt ``request_body`` to a vendor).

POST {base_url}/messages, Bearer API key, JSON ``{"from", "to", "text", "reference",
"status_callback"}``, ``Idempotency-Key: <delivery id>`` (the same on every retry, so a provider
that honours it never sends twice). A 2xx answer's ``id`` (or ``sid``/``message_id``) is the
provider id that later status callbacks name.
"""

from __future__ import annotations

from typing import Any

import httpx

from ..ports import ChannelPermanent, Outbound, Receipt
from ..settings import NotificationsSettings
from .http_json import post


class HttpSms:
    def __init__(self, settings: NotificationsSettings, client: httpx.AsyncClient) -> None:
        self.settings = settings
        self.client = client

    def request_body(self, outbound: Outbound) -> dict[str, Any]:
        return {
            "from": self.settings.sms_sender,
            "to": outbound.to,
            "text": outbound.message.text,
            "reference": str(outbound.delivery_id),
            "status_callback": f"{self.settings.public_base_url}/v1/sms/status",
        }

    async def send(self, outbound: Outbound) -> Receipt:
        if not self.settings.sms_base_url:
            raise ChannelPermanent("sms_not_configured")
        response = await post(
            self.client,
            f"{self.settings.sms_base_url.rstrip('/')}/messages",
            "sms",
            json=self.request_body(outbound),
            headers={
                "Authorization": f"Bearer {self.settings.sms_api_key.get_secret_value()}",
                "Idempotency-Key": str(outbound.delivery_id),
            },
            timeout=self.settings.sms_timeout_seconds,
        )
        try:
            body = response.json()
        except ValueError:
            body = {}
        provider_id = next((str(body[k]) for k in ("id", "sid", "message_id") if k in body), None)
        return Receipt(provider_id or f"sms:{outbound.delivery_id}")
