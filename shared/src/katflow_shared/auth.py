"""Who is calling, and may they: bearer tokens (JWTs from the clinic's identity provider, or static
API keys for machine clients) mapped to katflow roles.

Every HTTP endpoint except health, metrics, the public consultation form (rate-limited) and the
signed provider webhooks declares the roles it admits with ``require_roles``; no credentials (or
bad ones) answer 401, a valid caller without an admitted role 403. There is no switch that turns
this off: development and tests use real API keys and real signed JWTs.

- JWTs are verified against the issuer's JWKS (``KATFLOW_AUTH_JWKS_URL``; keys cached, refetched
  when a new ``kid`` appears, single-flight and at most every ``JWKS_MIN_REFETCH_SECONDS``, cached
  keys serving through an issuer outage): signature with an
  asymmetric algorithm only, ``iss``, ``aud``, ``exp`` and ``sub`` required. Roles come from the
  claim named by ``KATFLOW_AUTH_ROLES_CLAIM`` (a dotted path; a list or a space-separated string).
- API keys are stored as SHA-256 hashes (``KATFLOW_API_KEYS``: JSON, hash -> {name, roles}).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

import httpx
import jwt
import structlog
from fastapi import Depends, HTTPException, Request, Security
from fastapi.params import Depends as DependsParam
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .roles import Role, hash_api_key

if TYPE_CHECKING:
    from .settings import ServiceSettings

log = structlog.get_logger()

JWKS_MIN_REFETCH_SECONDS = 10.0
RETRY_AFTER = str(int(JWKS_MIN_REFETCH_SECONDS))  # seconds, when no keys could be fetched yet
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


@dataclass(frozen=True)
class Principal:
    """An authenticated caller (or the service itself, for background work).

    ``subject`` is the person or client: a JWT's ``sub`` or an API key's ``name`` as it stands, so a
    staff member's subject is their staff id (``clin-1``, the id scheduling books and notifications
    addresses); ``method`` says how they proved it. Background work is ``service:<name>``."""

    subject: str
    roles: frozenset[Role]
    method: Literal["jwt", "api_key", "signature", "anonymous", "system"]

    def role_label(self, admitted: Iterable[Role] = ()) -> str:
        """The role an action was done under: the first admitted one held, else all held, else how."""
        held = sorted(self.roles & frozenset(admitted)) or sorted(self.roles)
        return ",".join(held) or self.method


PUBLIC_FORM = Principal("anonymous:web-form", frozenset(), "anonymous")
# Provider webhooks authenticate by their HMAC signature (providers cannot send bearer tokens).
SMS_PROVIDER = Principal("provider:sms", frozenset({Role.PROVIDER_CALLBACK}), "signature")


def system_principal(service: str) -> Principal:
    return Principal(f"service:{service}", frozenset(), "system")


class Unauthenticated(Exception):
    """No usable credentials; the message says why in words safe to log (never the token)."""


class JwksCache:
    """The issuer's signing keys by ``kid``, fetched over HTTP(S) and cached.

    Fetches are single-flight and at most one per ``JWKS_MIN_REFETCH_SECONDS``, whether it worked or
    not: neither forged ``kid``s nor an issuer outage turn requests into fetches. Fetched keys serve
    until a fetch brings others, past ``ttl_seconds`` too while the issuer cannot be reached."""

    def __init__(
        self,
        url: str,
        ttl_seconds: float,
        fetch: Callable[[str], Awaitable[Mapping[str, Any]]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.ttl = ttl_seconds
        self._fetch = fetch or _fetch_json
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None  # the last fetch that brought keys
        self._tried_at: float | None = None  # the last fetch, whatever came of it
        self._lock = asyncio.Lock()  # held by the fetch under way

    async def key(self, kid: str | None) -> jwt.PyJWK:
        found = self._lookup(kid)
        if found is None or self._stale():
            await self._refresh(wait=found is None)  # a new kid: the issuer may have rotated its keys
            found = self._lookup(kid)
        if found is None and not self._keys:
            raise HTTPException(503, "token issuer keys unavailable", {"Retry-After": RETRY_AFTER})
        if found is None:
            raise Unauthenticated("signing key not in the issuer's JWKS")
        return found

    def _stale(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at > self.ttl

    def _lookup(self, kid: str | None) -> jwt.PyJWK | None:
        if kid is None:
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    async def _refresh(self, wait: bool) -> None:
        """Fetch the keys unless a fetch is under way (then ``wait`` for its result, or go on with
        the keys in hand) or the last one started less than JWKS_MIN_REFETCH_SECONDS ago."""
        if self._lock.locked():
            if wait:
                async with self._lock:
                    return
            return
        if self._tried_at is not None and self._clock() - self._tried_at < JWKS_MIN_REFETCH_SECONDS:
            return
        async with self._lock:  # acquired at once: it was free and nothing was awaited since
            self._tried_at = self._clock()
            try:
                data = await self._fetch(self.url)
                keys = jwt.PyJWKSet.from_dict(dict(data)).keys
            except (httpx.HTTPError, ValueError, jwt.PyJWKSetError) as exc:
                log.warning("jwks_unavailable", error=type(exc).__name__, cached_keys=len(self._keys))
                return  # keep serving with the keys already known
            self._keys = {k.key_id or f"#{i}": k for i, k in enumerate(keys)}
            self._fetched_at = self._clock()


async def _fetch_json(url: str) -> Mapping[str, Any]:
    async with httpx.AsyncClient(timeout=5, follow_redirects=False) as client:
        response = await client.get(url)
        response.raise_for_status()
        data: Mapping[str, Any] = response.json()
        return data


class Authenticator:
    """Turns a bearer token into a Principal, or raises Unauthenticated."""

    def __init__(
        self, settings: ServiceSettings, fetch: Callable[[str], Awaitable[Mapping[str, Any]]] | None = None
    ) -> None:
        self.settings = settings
        self.api_keys = dict(settings.api_keys)
        self.jwks = (
            JwksCache(settings.auth_jwks_url, settings.auth_jwks_cache_seconds, fetch)
            if settings.auth_jwks_url
            else None
        )
        self.algorithms = sorted(set(settings.auth_algorithms) & ASYMMETRIC_ALGORITHMS)

    async def authenticate(self, token: str) -> Principal:
        entry = self.api_keys.get(hash_api_key(token))
        if entry is not None:
            return Principal(entry.name, frozenset(entry.roles), "api_key")
        if token.count(".") == 2 and self.jwks is not None:
            return await self._verify_jwt(token)
        raise Unauthenticated("unknown API key" if token.count(".") != 2 else "JWTs are not configured")

    async def _verify_jwt(self, token: str) -> Principal:
        assert self.jwks is not None
        s = self.settings
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthenticated("malformed JWT") from exc
        if header.get("alg") not in self.algorithms:
            raise Unauthenticated("JWT algorithm not accepted")
        key = await self.jwks.key(header.get("kid"))
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=self.algorithms,
                audience=s.auth_audience,
                issuer=s.auth_issuer,
                leeway=s.auth_leeway_seconds,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"JWT rejected: {type(exc).__name__}") from exc
        return Principal(str(claims["sub"]), roles_from_claims(claims, s.auth_roles_claim), "jwt")


def roles_from_claims(claims: Mapping[str, Any], path: str) -> frozenset[Role]:
    """katflow roles found at the dotted claim ``path`` (a list, or a space-separated string)."""
    value: Any = claims
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    names = value.split() if isinstance(value, str) else value if isinstance(value, list) else []
    known = {r.value for r in Role}
    return frozenset(Role(n) for n in names if isinstance(n, str) and n in known)


# --------------------------------------------------------------------------- FastAPI dependencies

BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="A JWT from the clinic's identity provider, or a katflow API key. The roles an "
    "operation admits are listed in its security requirement.",
)
STATE_PRINCIPAL = "katflow_principal"
STATE_ADMITTED = "katflow_admitted_roles"


def authenticator(request: Request) -> Authenticator:
    """The app's Authenticator (made on first use from the running service's settings)."""
    found: Authenticator | None = getattr(request.app.state, "katflow_auth", None)
    if found is None:
        runtime = getattr(request.app.state, "runtime", None)
        if runtime is None:
            raise HTTPException(503, "service starting", {"Retry-After": "1"})
        found = request.app.state.katflow_auth = Authenticator(runtime.settings)
    return found


def require_roles(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting callers that hold at least one of ``roles``.

    Use as ``dependencies=[Depends(require_roles(Role.CLINICIAN))]`` on a route or router, or as a
    parameter ``principal: Annotated[Principal, Depends(require_roles(...))]``.
    """
    if not roles:
        raise ValueError("require_roles needs at least one role")
    admitted = frozenset(roles)
    # the admitted roles appear in the operation's OpenAPI security requirement (OAS 3.1 role names)
    bearer = Security(BEARER, scopes=[r.value for r in roles])

    async def dependency(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = bearer,
    ) -> Principal:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise _unauthenticated("no bearer token")
        try:
            principal = await authenticator(request).authenticate(credentials.credentials)
        except Unauthenticated as exc:
            raise _unauthenticated(str(exc)) from exc
        mark_authenticated(request, principal, roles)
        if not principal.roles & admitted:
            log.info("auth_forbidden", actor=principal.subject, roles=sorted(principal.roles))
            raise HTTPException(403, "your role does not permit this")
        return principal

    return dependency


def admits(*roles: Role) -> DependsParam:
    """``Depends(require_roles(*roles))``, for a route's or router's ``dependencies=[...]``."""
    result: DependsParam = Depends(require_roles(*roles))
    return result


def mark_authenticated(request: Request, principal: Principal, admitted: Iterable[Role] = ()) -> None:
    """Record who is calling (the HTTP audit record is written from this when the response is ready)."""
    setattr(request.state, STATE_PRINCIPAL, principal)
    setattr(request.state, STATE_ADMITTED, tuple(admitted))
    structlog.contextvars.bind_contextvars(actor=principal.subject)


async def current_principal(request: Request) -> Principal:
    """The caller a ``require_roles`` dependency of this route admitted (401 when none ran)."""
    principal: Principal | None = getattr(request.state, STATE_PRINCIPAL, None)
    if principal is None:
        raise _unauthenticated("no authenticated caller")
    return principal


def _unauthenticated(reason: str) -> HTTPException:
    log.info("auth_rejected", reason=reason)
    return HTTPException(401, "authentication required", {"WWW-Authenticate": "Bearer"})


PrincipalDep = Annotated[Principal, Depends(current_principal)]


async def current_actor(principal: PrincipalDep) -> str:
    """Who does a staff action: the credential's subject, a staff id. Request bodies never name the
    actor (their models forbid extra fields, so one that tries is a 422 naming the field)."""
    return principal.subject


# Every ``*_by`` a service records (administered_by, cancelled_by, decided_by, ...) comes from this.
Actor = Annotated[str, Depends(current_actor)]
AdminDep = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
