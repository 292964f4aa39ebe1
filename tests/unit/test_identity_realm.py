"""The local identity provider's realm file and the settings `make up` derives from it (the real
Keycloak's tokens are tested in tests/e2e/test_identity.py)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from katflow_shared.roles import CARE_TEAM, Role
from katflow_shared.settings import ServiceSettings
from katflow_tools import cli, identity


@pytest.fixture(scope="module")
def realm() -> dict[str, Any]:
    return identity.load_realm()


def client(realm: dict[str, Any], client_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in realm["clients"] if c["clientId"] == client_id)
    return found


def test_katflows_staff_roles_are_client_roles_of_the_api_audience(realm: dict[str, Any]) -> None:
    staff_roles = {r.value for r in (*CARE_TEAM, Role.ADMIN)}
    assert {r["name"] for r in realm["roles"]["client"]["katflow"]} == staff_roles
    assert client(realm, "katflow")["bearerOnly"] is True
    for name in ("katflow-console", "katflow-cli"):
        c = client(realm, name)
        assert [m["config"]["included.client.audience"] for m in c["protocolMappers"]] == ["katflow"]
        assert c["fullScopeAllowed"] is False  # only katflow's roles go into its tokens
        scoped = {m["client"]: set(m["roles"]) for m in realm["clientScopeMappings"]["katflow"]}
        assert scoped[name] == staff_roles


def test_the_console_is_a_confidential_code_flow_client_with_pkce(realm: dict[str, Any]) -> None:
    console = client(realm, "katflow-console")
    assert (console["publicClient"], console["standardFlowEnabled"]) == (False, True)
    assert (console["directAccessGrantsEnabled"], console["implicitFlowEnabled"]) == (False, False)
    assert console["attributes"]["pkce.code.challenge.method"] == "S256"


def test_one_demo_user_per_role_whose_id_is_the_staff_id(realm: dict[str, Any]) -> None:
    users = identity.demo_users(realm)
    assert sorted(r for u in users for r in u.roles) == sorted(r.value for r in (*CARE_TEAM, Role.ADMIN))
    by_name = {u["username"]: u for u in realm["users"]}
    for user in users:
        raw = by_name[user.username]
        assert raw["id"] == user.username  # the token's `sub`
        assert raw["email"] and raw["firstName"] and raw["lastName"]  # else "account not fully set up"
        assert user.password == f"dev-{user.username}"
    assert {u.username for u in users} >= {"clin-1", "ther-1"}  # scheduling's clinician and therapist


def test_the_services_take_roles_from_the_api_clients_roles() -> None:
    env = {"KATFLOW_KEYCLOAK_ISSUER": "http://127.0.0.1:18080/realms/clinic"}
    assert identity.auth_env(env) == {
        "KATFLOW_AUTH_JWKS_URL": "http://127.0.0.1:18080/realms/clinic/protocol/openid-connect/certs",
        "KATFLOW_AUTH_ISSUER": "http://127.0.0.1:18080/realms/clinic",
        "KATFLOW_AUTH_AUDIENCE": "katflow",
        "KATFLOW_AUTH_ROLES_CLAIM": "resource_access.katflow.roles",
        "KATFLOW_CONSOLE_OIDC_CLIENT_ID": "katflow-console",  # the console's login client
        "KATFLOW_CONSOLE_OIDC_CLIENT_SECRET": "",
    }
    assert identity.auth_env({}) == {}


def test_make_up_points_the_services_at_the_local_keycloak_unless_the_operator_chose(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in list(cli.os.environ):
        if name.startswith("KATFLOW_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("KATFLOW_KEYCLOAK_URL", "http://127.0.0.1:18080")
    monkeypatch.setenv("KATFLOW_KEYCLOAK_ISSUER", "http://127.0.0.1:18080/realms/clinic")
    assert cli._stack_config().extra_env["KATFLOW_AUTH_ROLES_CLAIM"] == "resource_access.katflow.roles"
    monkeypatch.setenv("KATFLOW_AUTH_JWKS_URL", "https://idp.example/certs")
    assert "KATFLOW_AUTH_ROLES_CLAIM" not in cli._stack_config().extra_env


def test_make_up_prints_the_logins(realm: dict[str, Any]) -> None:
    env = {
        "KATFLOW_KEYCLOAK_URL": "http://127.0.0.1:18080",
        "KATFLOW_KEYCLOAK_ISSUER": "http://i/realms/clinic",
    }
    text = "\n".join(identity.login_help(env, realm))
    for user in ("clin-1", "ther-1", "coord-1", "admin-1"):
        assert f"{user:9} / dev-{user}" in text
    assert "http://i/realms/clinic/account" in text
    assert identity.login_help({}, realm) == []


def test_prod_refuses_realm_wide_roles() -> None:
    prod: dict[str, Any] = {
        "environment": "prod",
        "database_url": "postgresql://intake:s3cr3t-value@db.internal:5432/intake?sslmode=require",
    }
    with pytest.raises(ValidationError, match="realm-wide"):
        ServiceSettings(**prod, auth_roles_claim="realm_access.roles")
    ServiceSettings(auth_roles_claim="realm_access.roles")  # development may try anything
    ServiceSettings(auth_roles_claim="resource_access.katflow.roles")
