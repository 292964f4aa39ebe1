"""The owning services' APIs, called with the person's own access token: every action is theirs and
every refusal is the owning service's rule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def refusal(self) -> tuple[str, str, str]:
        """(field, rule, sentence) of ``detail[0]`` of a refusal."""
        detail = self.body.get("detail") if isinstance(self.body, dict) else None
        if isinstance(detail, list) and detail and isinstance(detail[0], dict):
            first = detail[0]
            loc = [str(p) for p in first.get("loc", []) if p != "body"]
            return (loc[-1] if loc else "", str(first.get("type", "")), str(first.get("msg", "")))
        words = detail if isinstance(detail, str) else f"the service answered {self.status}"
        return ("", f"http_{self.status}", words)


@dataclass(frozen=True)
class Services:
    urls: dict[str, str]  # service name -> base URL

    async def call(self, token: str, method: str, service: str, path: str, body: Any = None) -> Answer:
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=self.urls[service], timeout=15, headers=headers) as http:
            resp = await http.request(method, f"/v1{path}", json=body)
        try:
            payload = resp.json()
        except ValueError:
            payload = None
        return Answer(resp.status_code, payload)
