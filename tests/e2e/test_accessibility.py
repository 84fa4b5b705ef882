"""WCAG 2.1 AA on every page (issue 17), checked by axe-core in Chromium: sign in, Billing,
the New request dialog (open), My wallets, Use credits, Spend analytics, Approvals, Inbox,
Alerts & webhooks, People & workspaces (each tab), Audit log, My account, Set your
password (an invitation's link, opened signed out) and, over a ledger without an
administrator, the first run.

One browser page walks every state (one sign-in). A serious or critical violation the app
causes fails the test; what Streamlit causes is listed in axe_allowlist.py with a reason.
Every finding, allowed or not, is written to tests/e2e/artifacts/axe-report.json.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

import billing_core

from .axe import AXE_JS, Finding, audit, blocking, report
from .conftest import (
    ADMIN_EMAIL,
    ARTIFACTS_DIR,
    DEMO_PASSWORD,
    REPO_ROOT,
    VIEWPORT,
    _in_ci,
    _stop_process_group,
    open_page,
    start_streamlit,
    wait_for_app,
)

PAGES = ["My wallets", "Use credits", "Spend analytics", "Approvals", "Inbox", "Alerts & webhooks",
         "Audit log", "My account"]
PEOPLE_TABS = ["Workspaces", "People", "Credits"]
INVITEE = ("Axel Audit", "axel.audit@example.com")  # invited by the walk, for its link


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

    open_page(page, "People & workspaces")
    expect(page).to_have_title("People & workspaces · en-credits")
    for tab in PEOPLE_TABS:
        page.get_by_role("tab", name=tab).click()
        wait_for_app(page)
        findings += audit(page, f"People & workspaces, {tab}")
    link = invite(page, *INVITEE)
    findings += audit(page, "People & workspaces, an invitation's link")
    findings += set_password_page(page.context.browser, link)

    summary = report(findings, ARTIFACTS_DIR / "axe-report.json")
    failing = blocking(findings)
    assert not failing, (
        f"{len(failing)} serious or critical violations the app causes "
        f"(by rule: {summary['app_caused_by_rule']}):\n" + "\n".join(map(str, failing)))


def invite(page: Page, name: str, email: str) -> str:
    """Invite a member from the People tab; the link shown to pass on."""
    page.get_by_role("tab", name="People").click()
    wait_for_app(page)
    page.get_by_role("textbox", name="Email").fill(email)
    page.get_by_role("textbox", name="Name").fill(name)
    page.get_by_role("button", name="Invite").click()
    wait_for_app(page)
    code = page.get_by_test_id("stCode").filter(has_text="set-password?link=")
    expect(code).to_have_count(1)
    found = re.search(r"https?://\S+/set-password\?link=\S+", code.inner_text())
    assert found is not None
    return found.group()


def set_password_page(browser: Browser | None, link: str) -> list[Finding]:
    """The invitation's link in a browser that is not signed in: Set your password."""
    assert browser is not None
    theirs = browser.new_context(viewport=VIEWPORT)
    try:
        tab = theirs.new_page()
        tab.goto(link)
        wait_for_app(tab, initial_wait_ms=0)
        expect(tab.get_by_role("heading", name="Set your password")).to_be_visible()
        expect(tab).to_have_title("Set your password · en-credits")
        return audit(tab, "Set your password")
    finally:
        theirs.close()


def test_the_first_run_passes_axe(tmp_path: Path, page: Page) -> None:
    """A ledger without an administrator: Sign in shows how to create the first one."""
    where = tmp_path / "empty.duckdb"
    billing_core.open_ledger(str(where), create=True).close()
    proc, url, _ = start_streamlit(
        "app.py", cwd=REPO_ROOT, env_extra={"BILLING_DB": str(where)}, log_dir=tmp_path
    )
    try:
        page.goto(url)
        wait_for_app(page, initial_wait_ms=0)
        expect(page.get_by_role("heading", name="Set up this billing console")).to_be_visible()
        expect(page).to_have_title("Sign in · en-credits")
        findings = audit(page, "First run")
    finally:
        _stop_process_group(proc)
    report(findings, ARTIFACTS_DIR / "axe-report-first-run.json")
    failing = blocking(findings)
    assert not failing, "\n".join(map(str, failing))

