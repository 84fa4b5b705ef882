"""Grants in a real browser: an administrator approves a request as promotional credits
that expire in a few days, the member spends part of them, Billing warns that the rest will
expire unused, the app's clock moves past the expiry, and the history shows the expiry row
(written by the app process's own expiry job).

The app is served over its own copy of the demo with its clock read from a file
($BILLING_CLOCK_FILE) that the test rewrites, and the expiry job every second
($BILLING_EXPIRE_EVERY). Screenshots: grants-approve.png, grants-forecast.png,
grants-expired.png in tests/e2e/artifacts/.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

import billing_core
from billing_core.models import EntryKind

from .conftest import (
    ADMIN_EMAIL,
    APP_SCRIPT,
    DEFAULT_TIMEOUT_MS,
    REPO_ROOT,
    SEL_EXCEPTION,
    VIEWPORT,
    _save_screenshot,
    _stop_process_group,
    open_page,
    seed_ledger,
    sign_in,
    start_streamlit,
    wait_for_app,
)
from .test_member_journey import ROWS, TOAST, sign_out

MEMBER = "alan@example.com"
START, LATER = "2026-11-27T00:00:00Z", "2026-12-01T00:00:00Z"


@dataclass
class App:
    url: str
    clock: Path  # the file the app's clock reads
    ledger: Path
    request_id: int  # Alan's pending request at Acme
    amount: Decimal
    stop: Callable[[], None]  # then the test may open the ledger file itself


@pytest.fixture
def grants_app(tmp_path: Path) -> Iterator[App]:
    # its own demo: the session's ledger is held open by the session's app (a copy of a
    # file in use has no clean close, and its high-water mark stays behind)
    ledger = tmp_path / "grants.duckdb"
    seed_ledger(ledger)
    clock = tmp_path / "clock"
    clock.write_text(START)
    with billing_core.open_ledger(str(ledger)) as book:
        alan = book.user_by_email(MEMBER)
        pending = [r for r in book.requests(alan, workspace_id=1, status="pending")
                   if r.requested_by == alan.id]
    request = pending[0]
    log_dir = tmp_path / "app"
    log_dir.mkdir()
    proc, url, _ = start_streamlit(
        APP_SCRIPT, cwd=REPO_ROOT, log_dir=log_dir,
        # the clock moves four days ahead: sign-in sessions (12 hours, 30 idle minutes by
        # default; tests/e2e/test_sign_in_sessions.py) are made to outlast it here
        env_extra={"BILLING_DB": str(ledger), "BILLING_CLOCK_FILE": str(clock),
                   "BILLING_EXPIRE_EVERY": "1", "BILLING_SESSION_HOURS": "240",
                   "BILLING_SESSION_IDLE_MINUTES": "14400"},
    )
    try:
        yield App(url, clock, ledger, request.id, request.amount, lambda: _stop_process_group(proc))
    finally:
        _stop_process_group(proc)


@pytest.fixture
def utc_page(browser) -> Iterator[Page]:
    """A page whose browser says it is in UTC, so the times shown are the ledger's."""
    context = browser.new_context(viewport=VIEWPORT, timezone_id="UTC")
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def shoot(page: Page, name: str, *, whole: bool = True) -> None:
    """A screenshot of `page`; `whole`: the whole page (Streamlit scrolls inside its main
    block, so the viewport is grown to the content first, then restored)."""
    size = page.viewport_size
    if whole and size is not None:
        height = page.get_by_test_id("stMain").evaluate("e => e.scrollHeight")
        page.set_viewport_size({"width": size["width"], "height": max(size["height"], height + 40)})
        page.wait_for_timeout(500)
    _save_screenshot(page, name)
    if whole and size is not None:
        page.set_viewport_size(size)


def test_a_grant_approved_with_an_expiry_warns_then_expires_into_the_history(
    grants_app: App, utc_page: Page
) -> None:
    app, page = grants_app, utc_page
    url, clock, request_id, amount = app.url, app.clock, app.request_id, app.amount

    # The administrator approves Alan's request as promotional credits, last usable on Nov 29.
    sign_in(page, url, ADMIN_EMAIL)
    open_page(page, "Approvals")
    card = page.locator(f".st-key-billing-approvals-card-{request_id}")
    expect(card).to_be_visible()
    card.get_by_test_id("stSelectbox").click()
    page.get_by_role("option", name="Promotional").click()
    wait_for_app(page)
    field = card.get_by_test_id("stDateInput")
    field.get_by_role("spinbutton", name=re.compile("^year")).click()
    page.keyboard.type("20261129")  # year, month and day: each segment moves on to the next
    page.keyboard.press("Tab")
    wait_for_app(page)
    expect(field.get_by_role("spinbutton", name=re.compile("^day"))).to_have_text("29")
    shoot(page, "grants-approve", whole=False)
    page.locator(f".st-key-billing-approvals-approve-{request_id} button").click()
    wait_for_app(page)
    expect(page.locator(TOAST).filter(has_text=f"Approved #{request_id}")).to_be_visible()
    sign_out(page)

    # Alan spends a little: promotional credits expiring soonest are drawn first.
    sign_in(page, url, MEMBER)
    open_page(page, "Use credits")
    ask = page.get_by_role("button", name="Ask · 2.00 en-credits")
    for n in range(2):
        page.get_by_role("textbox", name="Your question").fill(f"Question {n}")
        ask.click()
        wait_for_app(page)
        expect(page.locator(TOAST).filter(has_text="Charged 2.00 en-credits.")).to_be_visible()

    # Billing warned beforehand: the rest of that grant will expire unused on Nov 30, 00:00.
    open_page(page, "Billing")
    warning = page.get_by_test_id("stAlert").filter(has_text="will expire unused")
    expect(warning).to_be_visible()
    grant_id = re.search(r"grant #(\d+) \(promotional\) on 2026-11-30 00:00", warning.inner_text())
    assert grant_id, warning.inner_text()
    soonest = page.get_by_test_id("stMetric").filter(has_text="Soonest expiry")
    expect(soonest.get_by_test_id("stMetricValue")).to_have_text("2026-11-30 00:00")
    left = amount - 4
    shoot(page, "grants-forecast")

    # The clock moves past the expiry; the app's expiry job writes the expiry within a second.
    clock.write_text(LATER)
    expiry = page.locator(ROWS).first
    deadline = time.monotonic() + 30
    while True:
        time.sleep(1.5)
        open_page(page, "Billing")
        if "Expiry" in expiry.locator(".type").inner_text() or time.monotonic() > deadline:
            break
    expect(expiry.locator(".type")).to_have_text("Expiry")
    expect(expiry.locator(".description")).to_have_text(
        f"Unused credits expired: grant #{grant_id.group(1)} (promotional)")
    expect(expiry.locator(".amount")).to_have_text(f"−{left:,.2f}")
    expect(expiry.locator(".date")).to_have_text("2026-11-30 00:00")  # dated at the expiry
    expect(page.get_by_test_id("stAlert").filter(has_text=f"grant #{grant_id.group(1)}")).to_have_count(0)
    expect(page.locator(SEL_EXCEPTION)).to_have_count(0)
    shoot(page, "grants-expired")

    # The books: one expiry of exactly what was left, by the system, and they balance.
    app.stop()
    with billing_core.open_ledger(str(app.ledger)) as book:
        book.verify()
        alan = book.user_by_email(MEMBER)
        expired = book.history(alan, 1, kind="expiry").items
        assert [(t.amount, t.actor_id) for t in expired] == [(left, 0)]
        (drawn,) = book.draws(alan, expired[0].id)
        assert drawn.grant_id == int(grant_id.group(1)) and expired[0].kind is EntryKind.EXPIRY
