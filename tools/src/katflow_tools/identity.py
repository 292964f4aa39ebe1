"""The local identity provider (Keycloak, realm ``clinic``; deploy/local/keycloak.sh): the services'
token settings for it, its demo staff and their tokens.

The provisioning's ``infra.sh env`` names it in ``KATFLOW_KEYCLOAK_*`` variables (not service
settings); :func:`auth_env` turns them into the ``KATFLOW_AUTH_*`` settings a service validates its
tokens with, exactly as in production: signature against the realm's JWKS, ``iss``, ``aud`` = the
API client, and katflow's roles from that client's roles (``resource_access.<client>.roles``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

REALM_FILE = Path(__file__).resolve().parents[3] / "deploy" / "local" / "keycloak" / "clinic-realm.json"
TOKEN_PATH = "/protocol/openid-connect/token"


def roles_claim(api_client: str) -> str:
    """Where a Keycloak token carries the roles of client ``api_client``: its client roles."""
    return f"resource_access.{api_client}.roles"


def auth_env(environ: Mapping[str, str]) -> dict[str, str]:
    """``KATFLOW_AUTH_*`` settings for the services from the provisioning's ``KATFLOW_KEYCLOAK_*``
    (none when no Keycloak is named there)."""
    issuer = environ.get("KATFLOW_KEYCLOAK_ISSUER", "")
    if not issuer:
        return {}
    client = environ.get("KATFLOW_KEYCLOAK_API_CLIENT", "katflow")
    jwks = environ.get("KATFLOW_KEYCLOAK_JWKS_URL", f"{issuer}/protocol/openid-connect/certs")
    return {
        "KATFLOW_AUTH_JWKS_URL": jwks,
        "KATFLOW_AUTH_ISSUER": issuer,
        "KATFLOW_AUTH_AUDIENCE": client,
        "KATFLOW_AUTH_ROLES_CLAIM": roles_claim(client),
        "KATFLOW_CONSOLE_OIDC_CLIENT_ID": environ.get("KATFLOW_KEYCLOAK_CONSOLE_CLIENT", "katflow-console"),
        "KATFLOW_CONSOLE_OIDC_CLIENT_SECRET": environ.get("KATFLOW_KEYCLOAK_CONSOLE_SECRET", ""),
    }


@dataclass(frozen=True)
class DemoUser:
    username: str  # also the user's id, so the token's `sub` and katflow's staff id
    password: str  # development only
    roles: tuple[str, ...]  # katflow roles (client roles of the API client)
    email: str


def demo_users(realm: Mapping[str, Any], api_client: str = "katflow") -> list[DemoUser]:
    """The realm's users holding a katflow role, with their (development) passwords."""
    found: list[DemoUser] = []
    for user in realm.get("users", []):
        roles = tuple(user.get("clientRoles", {}).get(api_client, []))
        password = next((c["value"] for c in user.get("credentials", []) if c.get("type") == "password"), "")
        if roles:
            found.append(DemoUser(user["username"], password, roles, user.get("email", "")))
    return found


def load_realm(path: Path = REALM_FILE) -> dict[str, Any]:
    realm: dict[str, Any] = json.loads(path.read_text())
    return realm


def login_help(environ: Mapping[str, str], realm: Mapping[str, Any] | None) -> list[str]:
    """What ``katflow stack up`` prints about logging in (nothing without a Keycloak)."""
    base, issuer = environ.get("KATFLOW_KEYCLOAK_URL", ""), environ.get("KATFLOW_KEYCLOAK_ISSUER", "")
    if not (base and issuer):
        return []
    cli = environ.get("KATFLOW_KEYCLOAK_CLI_CLIENT", "katflow-cli")
    lines = [
        f"{'keycloak':14} {issuer}  (admin console {base}/admin: admin / admin; development only)",
        f"{'':14} staff log in at {issuer}/account; a script's token: uv run katflow token clin-1",
        f"{'':14} (password grant, client {cli}; token endpoint {issuer}{TOKEN_PATH}). Demo staff:",
    ]
    users = demo_users(realm, environ.get("KATFLOW_KEYCLOAK_API_CLIENT", "katflow")) if realm else []
    lines += [f"{'':14}   {u.username:9} / {u.password:13} {', '.join(u.roles)}" for u in users]
    return lines


def password_grant(issuer: str, username: str, password: str, client_id: str = "katflow-cli") -> str:
    """An access token for ``username`` from the realm at ``issuer`` (direct access grant: scripts
    and tests only; people log in with the authorization code flow)."""
    response = httpx.post(
        f"{issuer}{TOKEN_PATH}",
        data={"grant_type": "password", "client_id": client_id, "username": username, "password": password},
        timeout=30,
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token
