"""The public form's captcha / proof-of-work hook (``KATFLOW_PUBLIC_FORM_VERIFIER``, off by default).

A verifier is an async callable ``(request: Request) -> bool`` named as ``module:callable``. It runs
before the body is validated or anything is stored; False is a 403. It reads whatever the client sent
for it (a captcha token in a header, a proof of work) and must not log or keep the request's body.
Settings are on ``request.app.state.settings``.

Built in, ``proof_of_work``: the client sends ``X-Proof-Of-Work: <nonce>`` such that
SHA-256(SHA-256(body) hex + ":" + nonce) starts with ``KATFLOW_PROOF_OF_WORK_BITS`` zero bits
(about 2^bits hashes for the browser, one for the server; bound to the body, so a nonce cannot be
reused for other requests).
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Awaitable, Callable

from fastapi import HTTPException, Request

Verifier = Callable[[Request], Awaitable[bool]]
PROOF_HEADER = "x-proof-of-work"


def load_verifier(name: str) -> Verifier:
    module_name, _, attribute = name.partition(":")
    if not (module_name and attribute):
        raise ValueError("KATFLOW_PUBLIC_FORM_VERIFIER is 'module:callable'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError("KATFLOW_PUBLIC_FORM_VERIFIER names a module that cannot be imported") from exc
    found = getattr(module, attribute, None)
    if not callable(found):
        raise ValueError("KATFLOW_PUBLIC_FORM_VERIFIER does not name a callable")
    verifier: Verifier = found
    return verifier


def leading_zero_bits(digest: bytes) -> int:
    value = int.from_bytes(digest, "big")
    return len(digest) * 8 - value.bit_length()


def work_digest(body: bytes, nonce: str) -> bytes:
    return hashlib.sha256(f"{hashlib.sha256(body).hexdigest()}:{nonce}".encode()).digest()


async def proof_of_work(request: Request) -> bool:
    nonce = request.headers.get(PROOF_HEADER, "")
    if not nonce or len(nonce) > 64:
        return False
    bits: int = request.app.state.settings.proof_of_work_bits
    return leading_zero_bits(work_digest(await request.body(), nonce)) >= bits


async def public_form_challenge(request: Request) -> None:
    """Dependency of the public form: the configured verifier must admit the request (403 if not)."""
    name: str = request.app.state.settings.public_form_verifier
    if name and not await load_verifier(name)(request):
        raise HTTPException(403, "the form's challenge was not met; reload the form and try again")
