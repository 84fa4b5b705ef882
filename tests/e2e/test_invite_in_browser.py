"""An administrator invites a person who sets a password with the link and signs in
(issue 11), in Chromium over the shared demo ledger.

Screenshots: tests/e2e/artifacts/invite-1-link.png, invite-2-set-password.png,
invite-3-signed-in.png.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from .conftest import ADMIN_EMAIL, SEL_EXCEPTION, VIEWPORT, open_page, sign_in, wait_for_app

NEWCOMER = "nadia.newcomer@example.com"
NAME = "Nadia Newcomer"
PASSWORD = "a long new password"


def choose(page: Page, label: str, option: str) -> None:
    """Pick `option` in the visible selectbox labelled `label` (typed: long lists are
    drawn a screenful at a time)."""
    boxes = page.get_by_test_id("stSelectbox").filter(has=page.get_by_text(label, exact=True))
    boxes.locator("visible=true").first.click()
    page.keyboard.type(option)
    page.get_by_role("option", name=option).first.click()
    wait_for_app(page)


def invite(page: Page, email: str, name: str) -> str:
    """Invite a member from the People tab; the link shown to pass on."""
    open_page(page, "People & workspaces")
    page.get_by_role("tab", name="People").click()
    page.get_by_role("textbox", name="Email").fill(email)
    page.get_by_role("textbox", name="Name").fill(name)
    page.get_by_role("button", name="Invite").click()
    wait_for_app(page)
    code = page.get_by_test_id("stCode").filter(has_text="set-password?link=")
    expect(code).to_have_count(1)
    link = re.search(r"https?://\S+/set-password\?link=\S+", code.inner_text())
    assert link is not None
    return link.group()


def test_an_admin_invites_a_person_who_sets_a_password_and_signs_in(app_url, browser, page, screenshot):
    sign_in(page, app_url, ADMIN_EMAIL)
    link = invite(page, NEWCOMER, NAME)
    assert link.startswith(app_url + "/set-password?link=")  # the console's own address
    screenshot("invite-1-link")
    # Ada puts her in Acme Research while the link travels
    choose(page, "Person", NEWCOMER)
    choose(page, "Add to a workspace", "Acme Research")
    page.get_by_role("button", name="Add", exact=True).locator("visible=true").first.click()
    wait_for_app(page)
    expect(page.locator(SEL_EXCEPTION)).to_have_count(0)

    theirs = browser.new_context(viewport=VIEWPORT)
    try:
        tab = theirs.new_page()
        tab.goto(link)
        wait_for_app(tab, initial_wait_ms=0)
        expect(tab.get_by_role("heading", name="Set your password")).to_be_visible()
        expect(tab.get_by_text(NAME)).to_be_visible()
        tab.get_by_role("textbox", name="New password", exact=True).fill(PASSWORD)
        tab.get_by_role("textbox", name="New password again").fill(PASSWORD)
        screenshot_of(tab, "invite-2-set-password")
        tab.get_by_role("button", name="Set password").click()
        wait_for_app(tab)
        expect(tab.get_by_text("Your password is set.")).to_be_visible()
        assert "link=" not in tab.url  # the spent link left the address bar
        tab.get_by_role("button", name="Sign in").click()
        wait_for_app(tab)
        tab.get_by_role("textbox", name="Email").fill(NEWCOMER)
        tab.get_by_role("textbox", name="Password").fill(PASSWORD)
        tab.get_by_role("button", name="Sign in", exact=True).click()
        wait_for_app(tab)
        expect(tab.get_by_test_id("stSidebar").get_by_text(NEWCOMER, exact=True)).to_be_visible()
        expect(tab.get_by_role("heading", name="Billing", exact=True)).to_be_visible()
        expect(tab.get_by_role("combobox", name="Workspace")).to_have_value("Acme Research")
        expect(tab.locator(SEL_EXCEPTION)).to_have_count(0)
        screenshot_of(tab, "invite-3-signed-in")
        # the link works once
        again = theirs.new_page()
        again.goto(link)
        wait_for_app(again, initial_wait_ms=0)
        expect(again.get_by_text("This link cannot be used")).to_be_visible()
    finally:
        theirs.close()


def screenshot_of(tab: Page, name: str) -> None:
    from .conftest import _save_screenshot

    _save_screenshot(tab, name)
