"""Staff chat webhook (Slack-compatible incoming webhook: POST JSON ``{"text": ...}``)."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from pydantic import SecretStr

from ..ports import ChannelPermanent, Outbound, Receipt
from .http_json import post


class StaffWebhook:
    def __init__(self, urls: Mapping[str, SecretStr], client: httpx.AsyncClient, timeout: float) -> None:
        self.urls = urls
        self.client = client
        self.timeout = timeout

    @staticmethod
    def payload(outbound: Outbound) -> dict[str, object]:
        message = outbound.message
        prefix = ":rotating_light: " if outbound.urgent else ""
        return {
            "text": f"{prefix}{message.subject}",
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": f"*{prefix}{message.subject}*"}},
                {"type": "section", "text": {"type": "mrkdwn", "text": message.text}},
            ],
        }

    async def send(self, outbound: Outbound) -> Receipt:
        url = self.urls.get(outbound.to)
        if url is None:
            raise ChannelPermanent("staff_webhook_not_configured")
        await post(
            self.client, url.get_secret_value(), "webhook", json=self.payload(outbound), timeout=self.timeout
        )
        return Receipt(f"staff_webhook:{outbound.delivery_id}")
