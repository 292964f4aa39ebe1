"""The staff console in a browser: Playwright driving Debian's chromium (never ``playwright
install``), logins through Keycloak's real login page, and the console's redirect address allowed
for the test's port while the test runs (the realm allows only 127.0.0.1:8004, ``make up``'s)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from katflow_tools.time_machine import TimeMachine

from .course import CourseDriver, driving
from .infra import Idp, Infra, find_idp
from .stack import make_stack

CHROMIUM = "/usr/bin/chromium"
CONSOLE_CLIENT, CONSOLE_SECRET = "katflow-console", "katflow-console-dev-secret"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
AXE = Path(__file__).parent / "vendor" / "axe.min.js"  # axe-core 4.14.1 (vendor/README.md)
ALL = ("intake", "scheduling", "notifications", "console")


@contextlib.asynccontextmanager
async def console_course(infra: Infra, run_root: Path, **env: str) -> AsyncIterator[CourseDriver]:
    """The four services on one clock the test moves, taking Keycloak's tokens, the console's
    redirect allowed for its port; ``env``: more settings for every service."""
    idp = find_idp()
    clock = TimeMachine(run_root / f"clock-{uuid.uuid4().hex}.txt")
    auth = {k: v for k, v in idp.auth_env().items() if k != "KATFLOW_CONSOLE_OIDC_CLIENT_SECRET"}
    settings = {
        "KATFLOW_CLOCK_OFFSET_FILE": str(clock.path),
        "KATFLOW_CONSOLE_OIDC_CLIENT_SECRET": CONSOLE_SECRET,
    }
    stack = await make_stack(infra, run_root, **settings, **auth, **env)
    try:
        with console_redirect_allowed(idp, stack.url("console")):
            async with driving(stack, clock, *ALL) as driver:
                yield driver
    finally:
        stack.stop()


def _admin(idp: Idp) -> httpx.Client:
    """Keycloak's admin API as the local development admin (admin / admin, development only)."""
    token = httpx.post(
        f"{idp.url}/realms/master/protocol/openid-connect/token",
        data={"grant_type": "password", "client_id": "admin-cli", "username": "admin", "password": "admin"},
        timeout=30,
    )
    token.raise_for_status()
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    return httpx.Client(base_url=f"{idp.url}/admin/realms/{idp.realm}", headers=headers, timeout=30)


def _set_redirects(idp: Idp, change: Any) -> None:
    with _admin(idp) as admin:
        found = admin.get("/clients", params={"clientId": CONSOLE_CLIENT})
        found.raise_for_status()
        client = found.json()[0]
        client["redirectUris"] = change(client["redirectUris"])
        admin.put(f"/clients/{client['id']}", json=client).raise_for_status()


@contextlib.contextmanager
def console_redirect_allowed(idp: Idp, console_url: str) -> Iterator[None]:
    """The console client may send logins back to ``console_url`` while this block runs."""
    uri = f"{console_url}/*"
    _set_redirects(idp, lambda uris: [*uris, uri])
    try:
        yield
    finally:
        _set_redirects(idp, lambda uris: [u for u in uris if u != uri])


@contextlib.asynccontextmanager
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            await chromium.close()


async def logged_in(b: Browser, console_url: str, username: str) -> tuple[BrowserContext, Page]:
    """A fresh browser context in which ``username`` logged in on Keycloak's own login page."""
    context = await b.new_context(viewport={"width": 1180, "height": 820})
    page = await context.new_page()
    await page.goto(console_url + "/")
    await page.wait_for_selector("#kc-form-login")  # Keycloak's page, not the console's
    await page.fill("#username", username)
    await page.fill("#password", f"dev-{username}")
    await page.click("#kc-login")
    await page.wait_for_url(console_url + "/**")
    return context, page


async def serious_accessibility_violations(page: Page) -> list[str]:
    """axe-core's WCAG 2 A/AA rules on the page as it stands: the serious and critical violations."""
    await page.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = await page.evaluate(
        "async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'best-practice']})).violations"
    )
    serious = [v for v in found if v["impact"] in ("serious", "critical")]
    return [f"{v['id']}: {v['help']} ({len(v['nodes'])})" for v in serious]


async def screenshot(page: Page, name: str) -> None:
    """The page's screenshot in docs/screenshots, once axe-core finds nothing serious on it."""
    assert await serious_accessibility_violations(page) == [], name
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
