"""WCAG 2.1 AA on every page (issue 17), checked by axe-core in Chromium: sign in, Billing,
the New request dialog (open), My wallets, Use credits, Spend analytics, Approvals, Inbox
and Alerts & webhooks.

One browser page walks every state (one sign-in). A serious or critical violation the app
causes fails the test; what Streamlit causes is listed in axe_allowlist.py with a reason.
Every finding, allowed or not, is written to tests/e2e/artifacts/axe-report.json.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .axe import AXE_JS, Finding, audit, blocking, report
from .conftest import ADMIN_EMAIL, ARTIFACTS_DIR, DEMO_PASSWORD, _in_ci, open_page, wait_for_app

PAGES = ["My wallets", "Use credits", "Spend analytics", "Approvals", "Inbox", "Alerts & webhooks"]


@pytest.fixture(autouse=True)
def _require_axe() -> None:
    if not AXE_JS.is_file():
        reason = f"axe-core not installed at {AXE_JS}; run `bash scripts/install-axe.sh`"
        if _in_ci():
            pytest.fail(reason + " (CI=true: not skipping)", pytrace=False)
        pytest.skip(reason)


def test_every_page_and_state_passes_axe(app_url: str, page: Page) -> None:
    findings: list[Finding] = []
    page.goto(app_url)
    wait_for_app(page, initial_wait_ms=0)
    findings += audit(page, "Sign in")

    page.get_by_role("textbox", name="Email").fill(ADMIN_EMAIL)
    page.get_by_role("textbox", name="Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Billing", exact=True)).to_be_visible()
    expect(page).to_have_title("Billing · en-credits")
    findings += audit(page, "Billing")
    # A chart's toolbar (hidden until hover) shows while a keyboard user is on its buttons.
    fullscreen = page.get_by_role("button", name=re.compile("^Fullscreen: Daily spend"))
    fullscreen.focus()
    toolbar = page.get_by_test_id("stElementToolbar").filter(has=fullscreen)
    expect(toolbar).to_have_css("opacity", "1")

    page.get_by_role("button", name="New request").click()
    wait_for_app(page)
    expect(page.get_by_role("dialog")).to_be_visible()
    findings += audit(page, "New request dialog")
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
    wait_for_app(page)

    for title in PAGES:
        open_page(page, title)
        expect(page).to_have_title(f"{title} · en-credits")  # each page its own title
        findings += audit(page, title)

    summary = report(findings, ARTIFACTS_DIR / "axe-report.json")
    failing = blocking(findings)
    assert not failing, (
        f"{len(failing)} serious or critical violations the app causes "
        f"(by rule: {summary['app_caused_by_rule']}):\n" + "\n".join(map(str, failing)))
