"""The link every patient message carries to the patient's page: minted when the message is sent
(the dispatcher), one per message, signed; the page (``service_layer.portal``) checks it."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from ..adapters import postgres_portal as store
from ..domain.portal import links
from ..settings import NotificationsSettings


@dataclass(frozen=True)
class LinkMinter:
    """The link every patient message carries (RenderEnv.portal_url), one per message."""

    settings: NotificationsSettings

    @property
    def secret(self) -> bytes:
        return self.settings.portal_link_secret.get_secret_value().encode()

    def link_id_for(self, delivery_id: uuid.UUID) -> bytes:
        """A message's link id: derived from the delivery under the secret (so a retried message
        carries the same link), meaningless without the secret."""
        digest = hmac.new(self.secret, b"link-id|" + delivery_id.bytes, hashlib.sha256).digest()
        return digest[: links.LINK_ID_BYTES]

    async def url(
        self, pool: asyncpg.Pool, now: datetime, delivery_id: uuid.UUID, patient_id: uuid.UUID
    ) -> str | None:
        """The message's page link; None when its link id collided (the bare address is used)."""
        link_id = self.link_id_for(delivery_id)
        until = now + timedelta(days=self.settings.portal_link_days)
        try:
            expires_at = await store.mint(pool, link_id, patient_id, delivery_id, now, until)
        except store.LinkCollision:
            return None
        return f"{self.settings.portal_url.rstrip('/')}/p/{links.sign(self.secret, link_id, expires_at)}"

    @staticmethod
    def unsubscribe_url(page_url: str) -> str:
        """The one-click unsubscribe address of a message: its page link's token under /u/."""
        base, token = page_url.rsplit("/p/", 1)
        return f"{base}/u/{token}"
