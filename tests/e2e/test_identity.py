"""Staff identity from a real identity provider: tokens issued by Keycloak (the ``clinic`` realm of
deploy/local/keycloak/clinic-realm.json, password grant) against a real intake process configured as
``make up`` and production configure it: JWKS signature, ``iss``, ``aud`` = the API client
``katflow``, and katflow's roles from that client's roles (never realm-wide role names)."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import secrets
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from katflow_tools import cli
from tests.conftest import RUN_ROOT
from tests.support.infra import Idp, Infra, find_idp
from tests.support.stack import Stack, consultation_request, make_stack

# the realm's demo staff: username = user id = token `sub` = katflow staff id, and their katflow role
DEMO_STAFF = {
    "clin-1": "clinician",
    "ther-1": "therapist",
    "coord-1": "intake_coordinator",
    "admin-1": "admin",
}


@pytest.fixture(scope="session")
def idp() -> Idp:
    return find_idp()


CONSOLE, CONSOLE_SECRET = "katflow-console", "katflow-console-dev-secret"
CONSOLE_REDIRECT = "http://127.0.0.1:8004/auth/callback"


def console_login(idp: Idp, username: str, password: str, pkce: bool = True) -> httpx.Response:
    """The console's login as a browser does it: the authorization request (PKCE S256), the realm's
    login form, the redirect back with a code, and the code exchanged (with the client secret and the
    verifier) at the token endpoint; returns the token endpoint's answer. Keycloak marks its login
    cookies Secure even over http, which a client honouring the flag would not send back here: the
    cookies are carried by hand."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    params = {
        "client_id": CONSOLE,
        "response_type": "code",
        "redirect_uri": CONSOLE_REDIRECT,
        "scope": "openid",
        "state": secrets.token_urlsafe(8),
    }
    if pkce:
        params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    with httpx.Client(timeout=30, follow_redirects=False) as http:
        page = http.get(f"{idp.issuer}/protocol/openid-connect/auth", params=params)
        cookies = "; ".join(c.split(";", 1)[0] for c in page.headers.get_list("set-cookie"))
        action = re.search(r'<form[^>]*id="kc-form-login"[^>]*action="([^"]+)"', page.text)
        if page.status_code != 200 or action is None:
            return page  # refused before any login form
        sent = http.post(
            html.unescape(action.group(1)),
            data={"username": username, "password": password, "credentialId": ""},
            headers={"Cookie": cookies},
        )
        assert sent.status_code == 302, sent.text[:500]
        back = urlsplit(sent.headers["location"])
        assert f"{back.scheme}://{back.netloc}{back.path}" == CONSOLE_REDIRECT
        query = parse_qs(back.query)
        assert query["state"] == [params["state"]]
        return http.post(
            f"{idp.issuer}/protocol/openid-connect/token",
            data={
                "grant_type": "authorization_code",
                "code": query["code"][0],
                "redirect_uri": CONSOLE_REDIRECT,
                "client_id": CONSOLE,
                "client_secret": CONSOLE_SECRET,
                "code_verifier": verifier,
            },
        )


@pytest.fixture(scope="module")
def tokens(idp: Idp) -> dict[str, str]:
    """Access tokens of the demo staff (client katflow-cli), of a user holding only a realm-wide
    `clinician` role, of clin-1 for another application of the realm (client other-app: the same
    katflow client roles, its own audience), and of clin-1 logged in to the console."""
    found = {user: idp.token(user) for user in [*DEMO_STAFF, "realm-only-1"]}
    found["clin-1@other-app"] = idp.token("clin-1", client_id="other-app")
    console = console_login(idp, "clin-1", "dev-clin-1")
    assert console.status_code == 200, console.text
    found["clin-1@console"] = console.json()["access_token"]
    return found


@pytest.fixture
async def intake(infra: Infra, idp: Idp) -> AsyncIterator[Stack]:
    stack = await make_stack(infra, RUN_ROOT, **idp.auth_env())
    stack.start("intake")
    try:
        yield stack
    finally:
        stack.stop()


def claims(token: str) -> dict[str, Any]:
    """A JWT's payload, unverified (to look at what the issuer put there)."""
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_demo_staff_tokens_name_the_staff_id_and_carry_katflow_client_roles(
    idp: Idp, tokens: dict[str, str]
) -> None:
    for user, role in DEMO_STAFF.items():
        c = claims(tokens[user])
        assert (c["iss"], c["sub"], c["aud"], c["azp"]) == (idp.issuer, user, "katflow", "katflow-cli")
        assert c["resource_access"] == {"katflow": {"roles": [role]}}
        assert "realm_access" not in c  # the clients' scope holds katflow's roles only
    realm_only = claims(tokens["realm-only-1"])
    assert realm_only["realm_access"] == {"roles": ["clinician"]} and "resource_access" not in realm_only
    other = claims(tokens["clin-1@other-app"])
    assert other["aud"] == "other-app" and other["resource_access"] == {"katflow": {"roles": ["clinician"]}}
    console = claims(tokens["clin-1@console"])
    assert (console["sub"], console["aud"], console["azp"]) == ("clin-1", "katflow", CONSOLE)
    assert console["resource_access"] == {"katflow": {"roles": ["clinician"]}}


def test_the_console_client_needs_pkce(idp: Idp) -> None:
    """An authorization request without a code challenge is sent back with an error, never a code."""
    refused = console_login(idp, "clin-1", "dev-clin-1", pkce=False)
    assert refused.status_code == 302
    back = parse_qs(urlsplit(refused.headers["location"]).query)
    assert back["error"] == ["invalid_request"] and "code" not in back


async def test_keycloak_tokens_are_admitted_by_their_client_roles_only(
    intake: Stack, tokens: dict[str, str]
) -> None:
    async with httpx.AsyncClient(base_url=intake.url("intake"), timeout=15) as http:
        accepted = await http.post("/v1/consultation-requests", json=consultation_request(1))
        assert accepted.status_code == 202, accepted.text
        course = f"/v1/courses/{accepted.json()['course_id']}"

        async def status(method: str, path: str, token: str, **kw: Any) -> int:
            return (await http.request(method, path, headers=bearer(token), **kw)).status_code

        # the care team reads the course; an admin is not of the care team
        for user in ("clin-1", "ther-1", "coord-1", "clin-1@console"):
            assert await status("GET", course, tokens[user]) == 200, user
        assert await status("GET", course, tokens["admin-1"]) == 403
        # admin-only: the audit trail
        assert await status("GET", "/v1/audit", tokens["admin-1"]) == 200
        for user in ("clin-1", "ther-1", "coord-1"):
            assert await status("GET", "/v1/audit", tokens[user]) == 403, user
        # clinician-only: an eligibility decision (an empty body: admitted, then refused as invalid)
        assert await status("POST", f"{course}/eligibility", tokens["clin-1"], json={}) == 422
        for user in ("ther-1", "coord-1", "admin-1"):
            assert await status("POST", f"{course}/eligibility", tokens[user], json={}) == 403, user

        # a realm-wide role of katflow's name grants nothing
        assert await status("GET", course, tokens["realm-only-1"]) == 403
        # the right roles in a token for another application: not for katflow
        assert await status("GET", course, tokens["clin-1@other-app"]) == 401
        # a clinician's token with the payload rewritten to claim admin: the signature fails
        head, payload, signature = tokens["clin-1"].split(".")
        forged = claims(tokens["clin-1"]) | {"resource_access": {"katflow": {"roles": ["admin"]}}}
        forged_payload = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
        assert await status("GET", "/v1/audit", f"{head}.{forged_payload}.{signature}") == 401
        assert await status("GET", course, f"{head}.{payload}.{signature[:-4]}AAAA") == 401
        # the test API keys keep working next to the tokens
        assert (await http.get(course, headers=intake.auth_headers())).status_code == 200

    actors = await intake.fetchval(
        "intake", "SELECT array_agg(DISTINCT actor) FROM audit_log WHERE outcome = 'ok' AND status = 200"
    )
    # the person is the token's subject, their staff id ("user:" is the old prefix of JWT callers)
    assert {"clin-1", "ther-1", "coord-1", "admin-1"} <= {a.removeprefix("user:") for a in actors}


def test_katflow_token_prints_a_demo_users_token(
    idp: Idp, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KATFLOW_KEYCLOAK_ISSUER", idp.issuer)
    assert cli.main(["token", "ther-1"]) == 0
    printed = claims(capsys.readouterr().out.strip())
    assert (printed["sub"], printed["resource_access"]) == ("ther-1", {"katflow": {"roles": ["therapist"]}})
