"""A real HTTP server on loopback playing an SMS provider (and any webhook receiver) for local runs
and tests: it records every request, answers from a script of status codes, honours
Idempotency-Key like real providers do, and can sign and send callbacks the way a provider would.

    provider = FakeProvider().start()
    provider.script("/messages", 429, 500)   # then 200s
    ... KATFLOW_SMS_BASE_URL=provider.url ...
    provider.texts_to("+15551230000")
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any

from ..domain.signing import signed_headers
from .loopback import LoopbackServer


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int  # what the fake answered

    def json(self) -> Any:
        return json.loads(self.body or b"null")


class FakeProvider(LoopbackServer):
    retry_after = "1"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._lock = threading.Lock()
        self._scripts: dict[str, deque[int]] = defaultdict(deque)
        self.requests: list[Request] = []
        self.accepted: dict[str, dict[str, Any]] = {}  # idempotency key → message (SMS only)
        super().__init__(host, port)

    def script(self, path: str, *statuses: int) -> None:
        """Answer the next requests to ``path`` with these statuses (then 200)."""
        with self._lock:
            self._scripts[path].extend(statuses)

    def requests_to(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def texts(self) -> list[dict[str, Any]]:
        """Messages the 'provider' accepted (one per Idempotency-Key)."""
        with self._lock:
            return list(self.accepted.values())

    def texts_to(self, phone: str) -> list[str]:
        return [m["text"] for m in self.texts() if m["to"] == phone]

    def _answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        with self._lock:
            script = self._scripts[path]
            status = script.popleft() if script else 200
            self.requests.append(Request(path, headers, body, status))
            if status >= 300:
                code = {400: "invalid_number", 429: "rate_limited"}.get(status, "provider_error")
                return status, {"code": code, "message": "scripted failure"}
            if path != "/messages":
                return status, {"ok": True}
            key = headers.get("idempotency-key") or str(uuid.uuid4())
            if key not in self.accepted:
                message = json.loads(body)
                self.accepted[key] = {**message, "id": f"SM{uuid.uuid4().hex[:16]}", "key": key}
            return status, {"id": self.accepted[key]["id"], "status": "queued"}


def signed(
    payload: dict[str, Any], secret: str, webhook_id: str | None = None, timestamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """Body and headers of a callback signed the Standard Webhooks way, as a provider sends it."""
    body = json.dumps(payload).encode()
    message_id = webhook_id or f"msg_{uuid.uuid4().hex}"
    headers = signed_headers(secret, message_id, timestamp or int(time.time()), body)
    return body, {**headers, "content-type": "application/json"}
