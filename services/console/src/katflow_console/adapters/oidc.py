"""The staff IdP (OpenID Connect): the authorization request with PKCE S256, the code exchange
with the console's client secret, refresh, and the end-session address."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge


class LoginFailed(Exception):
    """The IdP refused the code or the refresh token (expired, replayed, revoked)."""


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str | None
    expires_in: int
    id_token: str | None


@dataclass(frozen=True)
class Idp:
    """``issuer`` is where browsers go (the login page); ``internal`` is where the console itself
    calls the realm (token, refresh, logout), when that is another address (compose, Kubernetes)."""

    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str
    internal: str = ""

    @property
    def backchannel(self) -> str:
        return (self.internal or self.issuer).rstrip("/")

    def authorization_url(self, state: str, verifier: str) -> str:
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": "openid",
            "state": state,
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
        }
        return f"{self.issuer}/protocol/openid-connect/auth?{urlencode(query)}"

    async def end_session(self, refresh_token: str) -> None:
        """Log the person out at the IdP too (its SSO session ends; the refresh token dies)."""
        auth = (self.client_id, self.client_secret)
        async with httpx.AsyncClient(timeout=15) as http:
            await http.post(
                f"{self.backchannel}/protocol/openid-connect/logout",
                data={"refresh_token": refresh_token},
                auth=auth,
            )

    async def exchange(self, code: str, verifier: str) -> Tokens:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri}
        return await self._token({**form, "code_verifier": verifier})

    async def refresh(self, refresh_token: str) -> Tokens:
        return await self._token({"grant_type": "refresh_token", "refresh_token": refresh_token})

    async def _token(self, form: dict[str, str]) -> Tokens:
        auth = (self.client_id, self.client_secret)
        async with httpx.AsyncClient(timeout=15) as http:
            resp = await http.post(f"{self.backchannel}/protocol/openid-connect/token", data=form, auth=auth)
        if resp.status_code != 200:
            raise LoginFailed(f"token endpoint answered {resp.status_code}")
        body: dict[str, Any] = resp.json()
        return Tokens(
            body["access_token"], body.get("refresh_token"), int(body["expires_in"]), body.get("id_token")
        )


def new_secret() -> str:
    token: str = generate_token(48)
    return token
