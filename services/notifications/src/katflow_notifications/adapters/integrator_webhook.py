"""Signed pushes to integrators (Standard Webhooks): the CloudEvent as JSON, with ``webhook-id``
(the delivery id, the same on every retry), ``webhook-timestamp`` and ``webhook-signature``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

import httpx

from ..domain.signing import signed_headers
from ..ports import ChannelPermanent, Outbound, Receipt
from ..settings import IntegratorEndpoint
from .http_json import post


class IntegratorWebhook:
    def __init__(
        self,
        endpoints: Mapping[str, IntegratorEndpoint],
        client: httpx.AsyncClient,
        timeout: float,
        now: Callable[[], datetime],
    ) -> None:
        self.endpoints = endpoints
        self.client = client
        self.timeout = timeout
        self.now = now

    async def send(self, outbound: Outbound) -> Receipt:
        endpoint = self.endpoints.get(outbound.to)
        if endpoint is None:
            raise ChannelPermanent("integrator_not_configured")
        body = outbound.message.text.encode()
        headers = signed_headers(
            endpoint.secret.get_secret_value(), str(outbound.delivery_id), int(self.now().timestamp()), body
        )
        headers["content-type"] = "application/json"
        await post(self.client, endpoint.url, "webhook", content=body, headers=headers, timeout=self.timeout)
        return Receipt(f"webhook:{outbound.delivery_id}")
