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

    def missing_actor_field(self) -> str | None:
        detail = self.body.get("detail") if isinstance(self.body, dict) else None
        if self.status != 422 or not isinstance(detail, list):
            return None
        for d in detail:
            loc = d.get("loc", []) if isinstance(d, dict) else []
            if d.get("type") == "missing" and len(loc) == 2 and str(loc[1]).endswith("_by"):
                return str(loc[1])
        return None

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

    async def act(self, token: str, subject: str, service: str, path: str, body: dict[str, Any]) -> Answer:
        """POST an action as the person. A service version that still asks the body to name who acts
        (``checked_in_by``, ``administered_by``... missing: 422) is asked again naming the token's
        own subject; services that take the actor from the token refuse such a field, so it is never
        sent to them."""
        answer = await self.call(token, "POST", service, path, body)
        named = answer.missing_actor_field()
        if named is None:
            return answer
        return await self.call(token, "POST", service, path, {**body, named: subject})

    async def call(self, token: str, method: str, service: str, path: str, body: Any = None) -> Answer:
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=self.urls[service], timeout=15, headers=headers) as http:
            resp = await http.request(method, f"/v1{path}", json=body)
        try:
            payload = resp.json()
        except ValueError:
            payload = None
        return Answer(resp.status_code, payload)
