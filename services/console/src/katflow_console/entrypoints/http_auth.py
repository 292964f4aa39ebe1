"""Login (authorization code + PKCE S256 at the staff IdP), its callback, logout."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from ..adapters import postgres_sessions
from ..adapters.oidc import LoginFailed
from ..service_layer import sessions
from .web import COOKIE, ConsoleDep, PoolDep

router = APIRouter(tags=["login"])


@router.get("/login", summary="Send the browser to the IdP's login page")
async def login(c: ConsoleDep, pool: PoolDep, next: str = "/") -> Response:  # noqa: A002
    return RedirectResponse(await sessions.begin(pool, c.idp, next), 303)


@router.get("/auth/callback", summary="The IdP's redirect back with the code")
async def callback(
    request: Request, c: ConsoleDep, pool: PoolDep, state: str = "", code: str = "", error: str = ""
) -> Response:
    try:
        if error or not code:
            raise LoginFailed(error or "no code")
        auth = request.app.state.katflow_auth
        hours = c.settings.console_session_hours
        session_id, next_path = await sessions.finish(pool, c.idp, auth, state, code, hours)
    except LoginFailed:
        return Response("Login failed. <a href='/login'>Try again</a>.", 401, media_type="text/html")
    resp = RedirectResponse(next_path, 303)
    resp.set_cookie(
        COOKIE,
        session_id,
        max_age=int(timedelta(hours=c.settings.console_session_hours).total_seconds()),
        httponly=True,
        samesite="lax",
        secure=c.settings.console_cookie_secure,
        path="/",
    )
    return resp


@router.post("/logout", summary="End the session here and at the IdP")
async def logout(request: Request, c: ConsoleDep, pool: PoolDep) -> Response:
    session_id = request.cookies.get(COOKIE)
    if session_id and (row := await postgres_sessions.load(pool, session_id)):
        if row["refresh_token"]:
            await c.idp.end_session(row["refresh_token"])
        await sessions.end(pool, session_id)
    resp = RedirectResponse("/signed-out", 303)
    resp.delete_cookie(COOKIE, path="/")
    return resp


@router.get("/signed-out", summary="After logout")
async def signed_out() -> Response:
    return Response("<p>Signed out. <a href='/'>Sign in again</a></p>", media_type="text/html")
