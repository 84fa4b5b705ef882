"""Sessions in Chromium (issue 11): signing in survives a reload, a second tab, a typed
address and a bookmarked deep link; signing out in one tab signs the other out on its
next interaction; a session unused for 30 minutes (the served app's clock moved through
$BILLING_CLOCK_FILE) ends; a forged cookie gets nothing.

Screenshots: tests/e2e/artifacts/session-*.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from .conftest import (
    DEFAULT_TIMEOUT_MS,
    SEL_EXCEPTION,
    VIEWPORT,
    _save_screenshot,
    _stop_process_group,
    open_page,
    sign_in,
    start_streamlit,
    wait_for_app,
)

MEMBER = "barbara@example.com"
COOKIE = "billing_session"
ENDED = "Your session has ended, sign in again."


def session_cookie(context: BrowserContext) -> dict | None:
    return next((c for c in context.cookies() if c["name"] == COOKIE), None)


def signed_in_as(page: Page, email: str) -> None:
    expect(page.get_by_test_id("stSidebar").get_by_text(email, exact=True)).to_be_visible()
    expect(page.locator(SEL_EXCEPTION)).to_have_count(0)


def signed_out(page: Page) -> None:
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
    # the signed-in sidebar leaves when the browser has drawn the signed-out run, which
    # after a page link's click can take longer than expect's default 5 s on a busy machine
    expect(page.get_by_test_id("stSidebar")).to_have_count(0, timeout=DEFAULT_TIMEOUT_MS)


def wait_for_cookie(context: BrowserContext, present: bool) -> None:
    for _ in range(DEFAULT_TIMEOUT_MS // 100):
        if (session_cookie(context) is not None) == present:
            return
        context.pages[0].wait_for_timeout(100)
    raise AssertionError(f"the session cookie is {'missing' if present else 'still there'}")


def test_signing_in_survives_a_reload_a_second_tab_and_a_deep_link(app_url, page, screenshot):
    sign_in(page, app_url, MEMBER)
    signed_in_as(page, MEMBER)
    wait_for_cookie(page.context, True)
    cookie = session_cookie(page.context)
    assert cookie is not None
    assert re.fullmatch(r"[1-9][0-9]*\.[A-Za-z0-9_-]{43}", cookie["value"])  # id and 256-bit secret
    assert (cookie["path"], cookie["sameSite"], cookie["secure"]) == ("/", "Strict", False)  # http here
    assert cookie["expires"] > 0  # kept across browser restarts until the session's end

    page.reload()
    wait_for_app(page, initial_wait_ms=0)
    expect(page.get_by_role("heading", name="Billing", exact=True)).to_be_visible()
    signed_in_as(page, MEMBER)

    second = page.context.new_page()
    second.goto(f"{app_url}/my-wallets")  # a second tab, a typed address
    wait_for_app(second, initial_wait_ms=0)
    expect(second.get_by_role("heading", name="My wallets", exact=True)).to_be_visible()
    signed_in_as(second, MEMBER)

    deep = page.context.new_page()
    deep.goto(f"{app_url}/billing?workspace=3")  # a bookmarked deep link
    wait_for_app(deep, initial_wait_ms=0)
    expect(deep.get_by_role("heading", name="Billing", exact=True)).to_be_visible()
    signed_in_as(deep, MEMBER)
    screenshot("session-deep-link")


def test_signing_out_in_one_tab_signs_the_other_out_on_its_next_interaction(app_url, page):
    sign_in(page, app_url, MEMBER)
    wait_for_cookie(page.context, True)
    other = page.context.new_page()
    other.goto(f"{app_url}/my-wallets")
    wait_for_app(other, initial_wait_ms=0)
    signed_in_as(other, MEMBER)

    page.get_by_test_id("stSidebar").get_by_role("button", name="Sign out").click()
    wait_for_app(page)
    signed_out(page)
    wait_for_cookie(page.context, False)
    expect(page.get_by_text(ENDED)).to_have_count(0)  # a deliberate sign out says nothing

    # the other tab still shows the page it drew, until it next talks to the server
    expect(other.get_by_role("heading", name="My wallets", exact=True)).to_be_visible()
    other.get_by_test_id("stSidebarNav").get_by_role("link", name="Billing").click()
    wait_for_app(other)
    signed_out(other)
    expect(other.get_by_text(ENDED)).to_be_visible()
    _save_screenshot(other, "session-other-tab-signed-out")
    other.reload()  # and stays signed out
    wait_for_app(other, initial_wait_ms=0)
    signed_out(other)


@pytest.mark.parametrize(
    "forge",
    [
        lambda real: real.split(".")[0] + "." + "A" * 43,  # a real session's id, a guessed secret
        lambda real: real[:-1] + ("B" if real[-1] != "B" else "C"),  # one character changed
        lambda real: "1." + real.split(".")[1],  # the secret under another id
        lambda real: "<script>alert(1)</script>",
    ],
    ids=["guessed-secret", "altered", "other-id", "markup"],
)
def test_a_forged_cookie_gets_nothing(app_url, browser, page, forge):
    sign_in(page, app_url, MEMBER)
    wait_for_cookie(page.context, True)
    real = session_cookie(page.context)["value"]  # type: ignore[index]
    thief = browser.new_context(viewport=VIEWPORT)
    try:
        thief.add_cookies([{"name": COOKIE, "value": forge(real), "url": app_url, "sameSite": "Strict"}])
        tab = thief.new_page()
        tab.goto(f"{app_url}/billing")
        wait_for_app(tab, initial_wait_ms=0)
        signed_out(tab)
        expect(tab.get_by_text(MEMBER)).to_have_count(0)
        expect(tab.get_by_test_id("stMetric")).to_have_count(0)
        tab.wait_for_timeout(500)
        assert session_cookie(thief) is None  # the forged cookie was cleared
    finally:
        thief.close()
    page.reload()  # the real session is untouched
    wait_for_app(page, initial_wait_ms=0)
    signed_in_as(page, MEMBER)


# --------------------------------------------------------------------------- idle expiry


@pytest.fixture(scope="module")
def moving_clock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """An app over its own small ledger whose clock is the instant in a file (the test moves it)."""
    import billing_core

    folder = tmp_path_factory.mktemp("moving-clock")
    clock = folder / "now.txt"
    clock.write_text("2026-11-27T09:00:00Z")
    with billing_core.open_ledger(str(folder / "ledger.duckdb"), create=True) as ledger:
        admin = ledger.add_user("ada@example.com", "Ada", admin=True, password="en-credits-demo")
        space = ledger.add_workspace(admin, "Acme")
        member = ledger.add_user(MEMBER, "Barbara", password="en-credits-demo")
        ledger.add_workspace_member(admin, space.id, member.id)
    proc, url, _ = start_streamlit(
        "app.py", cwd=Path(__file__).resolve().parents[2],
        env_extra={"BILLING_DB": str(folder / "ledger.duckdb"), "BILLING_CLOCK_FILE": str(clock)},
        log_dir=folder,
    )
    try:
        yield url, clock
    finally:
        _stop_process_group(proc)


def test_a_session_unused_for_30_minutes_ends(moving_clock, page, screenshot):
    url, clock = moving_clock
    sign_in(page, url, MEMBER)
    signed_in_as(page, MEMBER)
    clock.write_text("2026-11-27T09:29:00Z")
    open_page(page, "My wallets")  # used within the idle limit: still signed in
    signed_in_as(page, MEMBER)
    clock.write_text("2026-11-27T09:59:30Z")  # 30.5 minutes after that use
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Billing").click()
    wait_for_app(page)
    signed_out(page)
    expect(page.get_by_text(ENDED)).to_be_visible()
    screenshot("session-idle-ended")
    page.reload()  # the cookie is gone, and so is the session
    wait_for_app(page, initial_wait_ms=0)
    signed_out(page)
    assert session_cookie(page.context) is None
