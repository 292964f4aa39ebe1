"""Authentication and roles with real credentials: RSA key pairs made here, JWTs signed with them and
verified against a JWKS, API keys checked by hash, and the FastAPI dependency answering 401/403."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi import Depends, FastAPI, HTTPException
from jwt.algorithms import RSAAlgorithm
from pydantic import BaseModel, ConfigDict, ValidationError

from katflow_notifications.settings import NotificationsSettings
from katflow_shared.auth import (
    JWKS_MIN_REFETCH_SECONDS,
    Actor,
    Authenticator,
    JwksCache,
    Principal,
    Unauthenticated,
    admits,
    require_roles,
    roles_from_claims,
)
from katflow_shared.ratelimit import RateLimiter, public_rate_limit
from katflow_shared.roles import DEV_API_KEY, Role, hash_api_key
from katflow_shared.settings import ServiceSettings

ISSUER = "https://idp.clinic.example/realms/katflow"
JWKS_URL = "https://idp.clinic.example/realms/katflow/protocol/openid-connect/certs"
KEY = "kfk_unit_" + "x" * 32


class Issuer:
    """A stand-in identity provider: a real RSA key pair, its JWKS, and tokens it signs."""

    def __init__(self, kid: str = "k1") -> None:
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = kid
        self.fetches = 0

    def jwk(self) -> dict[str, Any]:
        public: dict[str, Any] = RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        return {**public, "kid": self.kid, "use": "sig", "alg": "RS256"}

    async def fetch(self, url: str) -> Mapping[str, Any]:
        assert url == JWKS_URL
        self.fetches += 1
        return {"keys": [self.jwk()]}

    def token(self, headers: dict[str, Any] | None = None, **claims: Any) -> str:
        now = datetime.now(UTC)
        body = {
            "iss": ISSUER,
            "aud": "katflow",
            "sub": "staff-42",
            "iat": now,
            "exp": now + timedelta(minutes=5),
            "roles": ["clinician"],
        } | claims
        return jwt.encode(
            {k: v for k, v in body.items() if v is not None},
            self.private,
            algorithm="RS256",
            headers={"kid": self.kid, **(headers or {})},
        )


def settings(**changes: Any) -> ServiceSettings:
    base: dict[str, Any] = {
        "auth_jwks_url": JWKS_URL,
        "auth_issuer": ISSUER,
        "api_keys": {hash_api_key(KEY): {"name": "ehr-sync", "roles": ["integrator"]}},
    }
    return ServiceSettings(**(base | changes))


@pytest.fixture(scope="module")
def issuer() -> Issuer:
    return Issuer()


# --------------------------------------------------------------------------- API keys


async def test_api_key_is_recognised_by_its_hash() -> None:
    principal = await Authenticator(settings()).authenticate(KEY)
    assert principal == Principal("ehr-sync", frozenset({Role.INTEGRATOR}), "api_key")
    assert hash_api_key(KEY) == hashlib.sha256(KEY.encode()).hexdigest()


async def test_unknown_api_key_is_refused() -> None:
    with pytest.raises(Unauthenticated):
        await Authenticator(settings()).authenticate(KEY + "y")


def test_settings_hold_only_hashes_of_api_keys() -> None:
    with pytest.raises(ValidationError, match="SHA-256"):
        settings(api_keys={KEY: {"name": "plain", "roles": ["admin"]}})
    with pytest.raises(ValidationError):
        settings(api_keys={hash_api_key(KEY): {"name": "no-roles", "roles": []}})
    with pytest.raises(ValidationError):
        settings(api_keys={hash_api_key(KEY): {"name": "x", "roles": ["superuser"]}})


def test_api_keys_come_from_json_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    config = {hash_api_key(KEY): {"name": "ehr-sync", "roles": ["integrator", "admin"]}}
    monkeypatch.setenv("KATFLOW_API_KEYS", json.dumps(config))
    loaded = ServiceSettings().api_keys[hash_api_key(KEY)]
    assert (loaded.name, loaded.roles) == ("ehr-sync", [Role.INTEGRATOR, Role.ADMIN])


# --------------------------------------------------------------------------- JWTs


async def test_valid_jwt_gives_its_subject_and_roles(issuer: Issuer) -> None:
    auth = Authenticator(settings(), fetch=issuer.fetch)
    principal = await auth.authenticate(issuer.token(roles=["clinician", "therapist", "not-a-role"]))
    assert principal.subject == "staff-42" and principal.method == "jwt"
    assert principal.roles == {Role.CLINICIAN, Role.THERAPIST}


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"exp": datetime.now(UTC) - timedelta(minutes=5)}, "expired"),
        ({"iss": "https://evil.example"}, "other issuer"),
        ({"aud": "another-app"}, "other audience"),
        ({"aud": None}, "no audience"),
        ({"exp": None}, "no expiry"),
        ({"sub": None}, "no subject"),
        ({"nbf": datetime.now(UTC) + timedelta(hours=1)}, "not yet valid"),
    ],
)
async def test_jwt_with_bad_claims_is_refused(issuer: Issuer, claims: dict[str, Any], why: str) -> None:
    auth = Authenticator(settings(), fetch=issuer.fetch)
    with pytest.raises(Unauthenticated):
        await auth.authenticate(issuer.token(**claims))


async def test_jwt_signed_by_another_key_with_the_same_kid_is_refused(issuer: Issuer) -> None:
    impostor = Issuer(kid=issuer.kid)
    auth = Authenticator(settings(), fetch=issuer.fetch)
    with pytest.raises(Unauthenticated, match="InvalidSignature"):
        await auth.authenticate(impostor.token())


async def test_unsigned_and_symmetric_jwts_are_refused(issuer: Issuer) -> None:
    """alg=none, and HS256 keyed with the public key (the algorithm-confusion attack)."""
    auth = Authenticator(settings(), fetch=issuer.fetch)
    claims = {"iss": ISSUER, "aud": "katflow", "sub": "x", "exp": int(time.time()) + 300, "roles": ["admin"]}
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": issuer.kid})
    pem = issuer.private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    signing_input = ".".join(
        _b64(json.dumps(part).encode()) for part in ({"alg": "HS256", "kid": issuer.kid}, claims)
    )
    confused = f"{signing_input}.{_b64(hmac.new(pem, signing_input.encode(), hashlib.sha256).digest())}"
    for token in (unsigned, confused):
        with pytest.raises(Unauthenticated, match="algorithm"):
            await auth.authenticate(token)


async def test_jwts_are_refused_when_no_issuer_is_configured(issuer: Issuer) -> None:
    with pytest.raises(Unauthenticated, match="not configured"):
        await Authenticator(settings(auth_jwks_url="")).authenticate(issuer.token())


def test_roles_claim_is_a_configurable_dotted_path() -> None:
    claims = {"realm_access": {"roles": ["admin", "offline_access"]}, "scope": "therapist openid"}
    assert roles_from_claims(claims, "realm_access.roles") == {Role.ADMIN}
    assert roles_from_claims(claims, "scope") == {Role.THERAPIST}
    assert roles_from_claims(claims, "missing.path") == frozenset()


async def test_jwks_is_cached_and_refetched_when_the_issuer_rotates_its_key() -> None:
    old, new = Issuer("old"), Issuer("new")
    current = [old]
    fetches = 0
    now = [1000.0]

    async def fetch(_url: str) -> Mapping[str, Any]:
        nonlocal fetches
        fetches += 1
        return {"keys": [i.jwk() for i in current]}

    cache = JwksCache(JWKS_URL, ttl_seconds=300, fetch=fetch, clock=lambda: now[0])
    assert (await cache.key("old")).key_id == "old"
    assert (await cache.key("old")).key_id == "old" and fetches == 1  # cached
    current = [old, new]
    with pytest.raises(Unauthenticated):
        await cache.key("new")  # a refetch is due only after JWKS_MIN_REFETCH_SECONDS
    assert fetches == 1
    now[0] += 11
    assert (await cache.key("new")).key_id == "new" and fetches == 2
    with pytest.raises(Unauthenticated):
        await cache.key("forged-kid")  # unknown kids cannot make it fetch on every request
    assert fetches == 2


async def test_jwks_fetch_failure_without_cached_keys_is_503() -> None:
    async def down(_url: str) -> Mapping[str, Any]:
        raise httpx.ConnectError("refused")

    with pytest.raises(HTTPException) as raised:
        await JwksCache(JWKS_URL, 300, fetch=down).key("k1")
    assert raised.value.status_code == 503


class JwksServer:
    """The issuer's JWKS endpoint on loopback, counting the requests it gets; ``down`` makes it
    answer 503. Each answer takes a little while, as a real issuer's does."""

    def __init__(self, issuer: Issuer) -> None:
        self.fetches = 0
        self.down = False
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                with counting:
                    server.fetches += 1
                time.sleep(0.05)
                body = json.dumps({"keys": [issuer.jwk()]}).encode()
                self.send_response(503 if server.down else 200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        counting = threading.Lock()
        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/certs"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()


@pytest.fixture
def jwks_server(issuer: Issuer) -> Iterator[JwksServer]:
    server = JwksServer(issuer)
    yield server
    server.http.shutdown()


async def test_jwks_fetches_are_single_flight_so_50_forged_kids_cost_one_fetch(
    jwks_server: JwksServer,
) -> None:
    now = [1000.0]
    cache = JwksCache(jwks_server.url, ttl_seconds=300, clock=lambda: now[0])
    first = await asyncio.gather(*(cache.key("k1") for _ in range(50)))
    assert {k.key_id for k in first} == {"k1"} and jwks_server.fetches == 1
    now[0] += JWKS_MIN_REFETCH_SECONDS + 1  # a refetch for an unknown kid is allowed again
    forged = await asyncio.gather(*(cache.key(f"forged-{n}") for n in range(50)), return_exceptions=True)
    assert all(isinstance(r, Unauthenticated) for r in forged)
    assert jwks_server.fetches == 2


async def test_cached_jwks_keys_serve_through_an_issuer_outage_without_a_fetch_per_request(
    jwks_server: JwksServer,
) -> None:
    now = [1000.0]
    cache = JwksCache(jwks_server.url, ttl_seconds=60, clock=lambda: now[0])
    assert (await cache.key("k1")).key_id == "k1" and jwks_server.fetches == 1
    jwks_server.down = True
    now[0] += 61  # the keys are past their TTL and the issuer answers 503
    served = [await cache.key("k1") for _ in range(20)]
    served += await asyncio.gather(*(cache.key("k1") for _ in range(30)))
    assert {k.key_id for k in served} == {"k1"}
    with pytest.raises(Unauthenticated):
        await cache.key("forged")  # 401, not 503: keys are known
    assert jwks_server.fetches == 2  # one attempt for all of them
    now[0] += JWKS_MIN_REFETCH_SECONDS + 1
    assert (await cache.key("k1")).key_id == "k1" and jwks_server.fetches == 3
    jwks_server.down = False
    now[0] += JWKS_MIN_REFETCH_SECONDS + 1
    assert (await cache.key("k1")).key_id == "k1" and jwks_server.fetches == 4
    assert (await cache.key("k1")).key_id == "k1" and jwks_server.fetches == 4  # fresh again


# --------------------------------------------------------------------------- the FastAPI dependency


def app_with(auth: Authenticator) -> FastAPI:
    app = FastAPI()
    app.state.katflow_auth = auth

    @app.get("/clinical", dependencies=[admits(Role.CLINICIAN)])
    async def clinical() -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/who")
    async def who(principal: Principal = Depends(require_roles(Role.INTEGRATOR, Role.ADMIN))) -> str:  # noqa: B008
        return principal.subject

    return app


async def test_endpoint_answers_401_403_and_200(issuer: Issuer) -> None:
    app = app_with(Authenticator(settings(), fetch=issuer.fetch))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        missing = await http.get("/clinical")
        assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
        assert (await http.get("/clinical", headers={"Authorization": "Basic dTpw"})).status_code == 401
        assert (await http.get("/clinical", headers=bearer("garbage"))).status_code == 401
        assert (await http.get("/clinical", headers=bearer(KEY))).status_code == 403  # integrator
        assert (await http.get("/clinical", headers=bearer(issuer.token()))).json() == {"ok": "yes"}
        assert (await http.get("/who", headers=bearer(KEY))).json() == "ehr-sync"
        assert (await http.get("/who", headers=bearer(issuer.token()))).status_code == 403


class ActIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dose_mg: float


async def test_the_actor_is_the_credentials_subject_and_a_body_naming_one_is_refused(issuer: Issuer) -> None:
    """Issue 27: actions were done in whatever name the body gave. Actor is the caller's subject."""
    app = FastAPI()
    app.state.katflow_auth = Authenticator(settings(), fetch=issuer.fetch)

    @app.post("/act", dependencies=[admits(Role.CLINICIAN)])
    async def act(body: ActIn, actor: Actor) -> str:
        return actor

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        token = bearer(issuer.token())
        assert (await http.post("/act", json={"dose_mg": 35}, headers=token)).json() == "staff-42"
        named = await http.post("/act", json={"dose_mg": 35, "administered_by": "clin-2"}, headers=token)
        assert named.status_code == 422
        assert [(e["loc"], e["type"]) for e in named.json()["detail"]] == [
            (["body", "administered_by"], "extra_forbidden")
        ]


def test_admitted_roles_are_published_in_the_openapi_security_requirement() -> None:
    spec = app_with(Authenticator(settings())).openapi()
    assert spec["paths"]["/clinical"]["get"]["security"] == [{"bearer": ["clinician"]}]
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_require_roles_needs_a_role() -> None:
    with pytest.raises(ValueError):
        require_roles()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --------------------------------------------------------------------------- prod settings


def test_prod_refuses_placeholder_and_development_credentials() -> None:
    real_db = "postgresql://intake:s3cr3t-value@db.internal:5432/intake?sslmode=verify-full"
    prod: dict[str, Any] = {"environment": "prod", "database_url": real_db, "kafka_security_protocol": "SSL"}
    ServiceSettings(**prod)
    for key in (DEV_API_KEY, "changeme"):
        with pytest.raises(ValidationError, match="KATFLOW_API_KEYS"):
            ServiceSettings(**prod, api_keys={hash_api_key(key): {"name": "x", "roles": ["admin"]}})
    with pytest.raises(ValidationError, match="https"):
        ServiceSettings(**prod, auth_jwks_url="http://idp.internal/certs", auth_issuer=ISSUER)
    with pytest.raises(ValidationError, match="KATFLOW_SMTP_PASSWORD"):
        NotificationsSettings(
            **prod, smtp_password="changeme", sms_webhook_secret="whsec_cmVhbC1wcm9kLXNlY3JldC12YWx1ZQ=="
        )
    # development keeps working with the development key
    ServiceSettings(api_keys={hash_api_key(DEV_API_KEY): {"name": "dev", "roles": ["admin"]}})


# --------------------------------------------------------------------------- public-form rate limit


def test_rate_limiter_allows_a_burst_then_refills_per_client() -> None:
    now = [0.0]
    limiter = RateLimiter(per_minute=3, clock=lambda: now[0])
    assert [limiter.retry_after("a") for _ in range(3)] == [None, None, None]
    wait = limiter.retry_after("a")
    assert wait is not None and 0 < wait <= 20
    assert limiter.retry_after("b") is None  # another client has its own bucket
    now[0] += 20
    assert limiter.retry_after("a") is None


def test_rate_limiter_forgets_the_oldest_clients_beyond_its_bound() -> None:
    limiter = RateLimiter(per_minute=1, clock=lambda: 0.0, max_keys=2)
    for client in ("a", "b", "c"):
        assert limiter.retry_after(client) is None
    assert limiter.retry_after("a") is None  # forgotten, so a fresh bucket
    assert limiter.retry_after("c") is not None


async def test_the_client_address_comes_from_forwarded_headers_only_through_trusted_proxies() -> None:
    """The rate limit's bucket: forwarded headers from an untrusted peer are ignored; behind trusted
    proxies it is the right-most address they did not add, whatever the client prepended."""
    app = FastAPI()
    app.state.runtime = SimpleNamespace(
        settings=settings(public_rate_limit_per_minute=1, trusted_proxies=["10.0.0.0/8", "fd00::/8"])
    )

    @app.post("/form", dependencies=[public_rate_limit()])
    async def form() -> None:
        return None

    async def post(peer: str, forwarded: str | None = None) -> int:
        transport = httpx.ASGITransport(app=app, client=(peer, 40000))
        headers = {"X-Forwarded-For": forwarded} if forwarded else {}
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            return (await http.post("/form", headers=headers)).status_code

    # an untrusted peer: its own bucket, whatever it forwards
    assert await post("203.0.113.5", "198.51.100.1") == 200
    assert await post("203.0.113.5", "198.51.100.2") == 429
    assert await post("203.0.113.5") == 429
    # through trusted proxies: the right-most untrusted hop; what the client prepends changes nothing
    assert await post("10.0.0.7", "6.6.6.6, 198.51.100.9") == 200
    assert await post("10.0.0.7", "7.7.7.7, 198.51.100.9") == 429
    assert await post("10.9.9.9", "198.51.100.9, 10.0.0.8") == 429  # two trusted hops, same client
    assert await post("fd00::1", "198.51.100.10, fd00::2") == 200
    # a trusted proxy that forwards nothing is the client itself
    assert await post("10.0.0.7") == 200
    assert await post("10.0.0.7") == 429
