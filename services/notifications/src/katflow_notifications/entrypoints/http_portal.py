"""The patient's page, reached from the link in every patient message (``/portal/p/{token}``).

Server-rendered HTML (Jinja2, no JavaScript). The URL holds only the opaque token; appointment ids
travel in form bodies. A browser that passed the second factor holds a signed session cookie scoped
to that link's path. Responses are never cached and send no Referer (the token stays out of other
sites' logs). Rate-limited per client address."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from katflow_shared.contracts import ChangeRequest
from katflow_shared.ratelimit import RateLimiter, client_address
from katflow_shared.runtime import RuntimeDep

from ..domain.portal.wording import LANGUAGES, TEXT, from_accept_language
from ..domain.templates.formatting import CRISIS
from ..service_layer.portal import Access, PatientPage
from .deps import DepsDep

COOKIE = "katflow_portal"
TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "portal_templates"),
    autoescape=select_autoescape(["html"]),
)
SENT = ("reschedule", "cancel", "ready")
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
    # no script at all, forms only to this origin, never inside another site's frame
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self';"
    " frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
}


async def _rate_limit(request: Request) -> None:
    state = request.app.state
    limiter: RateLimiter | None = getattr(state, "katflow_portal_limiter", None)
    if limiter is None:
        limiter = state.katflow_portal_limiter = RateLimiter(
            state.notifications.settings.portal_rate_limit_per_minute
        )
    wait = limiter.retry_after(client_address(request, state.runtime.settings.trusted_proxies))
    if wait is not None:
        raise HTTPException(429, "too many requests; retry later", {"Retry-After": str(int(wait) + 1)})


router = APIRouter(
    prefix="/portal", tags=["patient page"], include_in_schema=False, dependencies=[Depends(_rate_limit)]
)


async def _page(runtime: RuntimeDep, deps: DepsDep) -> PatientPage:
    return PatientPage(runtime.units, deps.settings, deps.protocols, deps.planner)


PageDep = Annotated[PatientPage, Depends(_page)]


def _html(p: PatientPage, name: str, lang: str, status: int = 200, **values: object) -> HTMLResponse:
    context = {
        "clinic_phone": p.settings.clinic_phone,
        "crisis": CRISIS[lang],
        "lang": lang,
        "t": TEXT[lang],
        **values,
    }
    return HTMLResponse(TEMPLATES.get_template(name).render(context), status, headers=HEADERS)


def _browser_language(p: PatientPage, request: Request) -> str:
    """Before the second factor (nobody known yet): the browser's language, else the clinic's."""
    return from_accept_language(request.headers.get("accept-language"), p.settings.default_locale)


def _base(token: str) -> str:
    return f"/portal/p/{token}"


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body())[:4096].decode(errors="replace")
    return {k: v[0] for k, v in parse_qs(body).items()}


async def _nothing(p: PatientPage, request: Request, reason: str) -> HTMLResponse:
    await p.refused("portal.open", reason)
    return _html(p, "nothing.html", _browser_language(p, request), 404 if reason == "unknown" else 410)


def _not_found(p: PatientPage, request: Request) -> HTMLResponse:
    return _html(p, "nothing.html", _browser_language(p, request), 404)


@router.get("")
@router.get("/")
async def landing(request: Request, p: PageDep) -> Response:
    """The bare portal address (texts too long for a personal link carry it): how to get in."""
    return _html(p, "landing.html", _browser_language(p, request))


@router.get("/p/{token}/surveys")
async def surveys(token: str) -> Response:
    """Surveys are not on the page yet: the survey message's link opens the page itself."""
    return RedirectResponse(_base(token), 303, headers=HEADERS)


@router.get("/p/{token}")
async def open_page(token: str, request: Request, p: PageDep) -> Response:
    a = await p.access(token, request.cookies.get(COOKIE))
    if isinstance(a, str):
        return await _nothing(p, request, a)
    if a is None:
        return _html(p, "factor.html", _browser_language(p, request), base=_base(token))
    shown = await p.show(a)
    saved = request.query_params.get("saved") == "1"
    sent = request.query_params.get("sent", "")
    return _html(
        p,
        "page.html",
        shown.lang,
        holder=shown.holder,
        page=shown.page,
        base=_base(token),
        saved=saved,
        sent=TEXT[shown.lang][f"sent_{sent}"] if sent in SENT else None,
        languages=LANGUAGES,
    )


@router.post("/p/{token}/confirm")
async def confirm(token: str, request: Request, p: PageDep) -> Response:
    answer = (await _form(request)).get("date_of_birth", "")
    result = await p.confirm(token, answer)
    if result in ("unknown", "expired", "revoked"):
        return await _nothing(p, request, result)
    if result == "wrong":
        lang = _browser_language(p, request)
        return _html(p, "factor.html", lang, 401, base=_base(token), wrong=True)
    response = RedirectResponse(_base(token), 303, headers=HEADERS)
    secure = p.settings.portal_url.startswith("https://")
    response.set_cookie(
        COOKIE,
        result,
        max_age=p.settings.portal_session_minutes * 60,
        path=_base(token),
        secure=secure,
        httponly=True,
        samesite="lax",
    )
    return response


async def _admitted(p: PatientPage, token: str, request: Request) -> Access | Response:
    a = await p.access(token, request.cookies.get(COOKIE))
    if isinstance(a, str):
        return await _nothing(p, request, a)
    if a is None:
        return RedirectResponse(_base(token), 303, headers=HEADERS)
    return a


@dataclass(frozen=True)
class _Asked:
    """An admitted patient's form about one of their appointments."""

    access: Access
    form: dict[str, str]
    appointment: uuid.UUID


async def _asked(p: PatientPage, token: str, request: Request) -> _Asked | Response:
    """Admitted, with a form that names an appointment; else the answer (the way in, or not found)."""
    a = await _admitted(p, token, request)
    if isinstance(a, Response):
        return a
    form = await _form(request)
    try:
        return _Asked(a, form, uuid.UUID(form.get("appointment", "")))
    except ValueError:
        return _not_found(p, request)


@router.post("/p/{token}/calendar")
async def calendar(token: str, request: Request, p: PageDep) -> Response:
    asked = await _asked(p, token, request)
    if isinstance(asked, Response):
        return asked
    content = await p.calendar(asked.access, asked.appointment)
    if content is None:
        return _not_found(p, request)
    disposition = {"Content-Disposition": 'attachment; filename="appointment.ics"'}
    return Response(content, 200, media_type="text/calendar", headers={**HEADERS, **disposition})


@router.post("/p/{token}/preferences")
async def preferences(token: str, request: Request, p: PageDep) -> Response:
    a = await _admitted(p, token, request)
    if isinstance(a, Response):
        return a
    form = await _form(request)
    email, sms = "email" in form and a.holder.email, "sms" in form and a.holder.phone
    locale = form.get("locale")
    if locale is not None and locale not in LANGUAGES:
        raise HTTPException(422, f"locale: one of {', '.join(LANGUAGES)}", headers=HEADERS)
    await p.preferences(a, email=email, sms=sms, optional="optional" in form, locale=locale)
    return RedirectResponse(_base(token) + "?saved=1", 303, headers=HEADERS)


@router.post("/p/{token}/revoke")
async def revoke(token: str, request: Request, p: PageDep) -> Response:
    a = await _admitted(p, token, request)
    if isinstance(a, Response):
        return a
    await p.revoke(a)
    response = _html(p, "nothing.html", p.language(a.holder), 200)
    response.delete_cookie(COOKIE, path=_base(token))
    return response


@router.post("/p/{token}/request")
async def request_change(token: str, request: Request, p: PageDep) -> Response:
    """Ask staff to reschedule or cancel a visit (AppointmentChangeRequested)."""
    asked = await _asked(p, token, request)
    if isinstance(asked, Response):
        return asked
    try:
        change = ChangeRequest(asked.form.get("change", ""))
    except ValueError:
        return _not_found(p, request)
    if not await p.request_change(asked.access, asked.appointment, change):
        return _not_found(p, request)
    return RedirectResponse(f"{_base(token)}?sent={change.value}", 303, headers=HEADERS)


@router.post("/p/{token}/ready")
async def ready(token: str, request: Request, p: PageDep) -> Response:
    """Morning-of readiness: the ride home and fasting confirmed (ReadinessConfirmed)."""
    asked = await _asked(p, token, request)
    if isinstance(asked, Response):
        return asked
    ride, fasting = "ride_home" in asked.form, "fasting" in asked.form
    if not await p.confirm_ready(asked.access, asked.appointment, ride=ride, fasting=fasting):
        return _not_found(p, request)
    return RedirectResponse(f"{_base(token)}?sent=ready", 303, headers=HEADERS)


@router.post("/u/{token}")
async def one_click_unsubscribe(token: str, request: Request, p: PageDep) -> Response:
    """RFC 8058: the mail client POSTs ``List-Unsubscribe=One-Click`` here; optional messages stop."""
    if not await p.unsubscribe(token):
        return await _nothing(p, request, "unknown")
    return _html(p, "unsubscribed.html", _browser_language(p, request))


@router.get("/u/{token}")
async def unsubscribe_page(token: str, request: Request, p: PageDep) -> Response:
    """A person who opened the address: one button (a GET never changes anything: link scanners)."""
    return _html(p, "unsubscribe.html", _browser_language(p, request), action=f"/portal/u/{token}")
