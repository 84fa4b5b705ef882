"""Notifications in the browser: a member asks for credits, the administrator's bell shows
it, the administrator approves, and the member's bell shows the decision.

Two browser contexts (two people) on the served app at once. Screenshots:
inbox-admin.png, inbox-member.png.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from .conftest import ADMIN_EMAIL, SEL_EXCEPTION, VIEWPORT, _save_screenshot, open_page, sign_in, wait_for_app

MEMBER = "barbara@example.com"
AMOUNT = "321.09"


def unread(page: Page) -> int:
    """The bell's count in the sidebar (0 when it shows no count)."""
    link = page.get_by_test_id("stSidebar").get_by_test_id("stPageLink-NavLink").filter(has_text="Inbox")
    match = re.search(r"(\d+) unread", link.inner_text())
    return int(match.group(1)) if match else 0


def test_a_request_rings_the_admins_bell_and_the_decision_the_members(app_url, browser):
    member = browser.new_context(viewport=VIEWPORT).new_page()
    admin = browser.new_context(viewport=VIEWPORT).new_page()
    try:
        sign_in(admin, app_url, ADMIN_EMAIL)
        before = unread(admin)
        sign_in(member, app_url, MEMBER)
        quiet = unread(member)
        member.get_by_role("button", name="New request").click()
        wait_for_app(member)
        dialog = member.get_by_role("dialog")
        dialog.get_by_role("textbox", name="Amount (en-credits)").fill(AMOUNT)
        dialog.get_by_role("textbox", name="Note (optional)").fill("For the <i>launch</i>")
        dialog.get_by_role("button", name="Submit request").click()
        wait_for_app(member)

        # The administrator's next page view shows one more unread, and the inbox says what
        open_page(admin, "Approvals")
        assert unread(admin) == before + 1
        open_page(admin, "Inbox")
        card = (
            admin.locator('[class*="st-key-billing-inbox-note-"]')
            .filter(has_text=f"{AMOUNT} en-credits")
            .first
        )
        expect(card).to_be_visible()
        expect(card.get_by_text("For the <i>launch</i>", exact=False)).to_be_visible()
        _save_screenshot(admin, "inbox-admin", full_page=False)

        # Approve it; the member's bell rings with the decision
        open_page(admin, "Approvals")
        request_card = admin.locator('[class*="st-key-billing-approvals-card-"]').filter(
            has_text=f"{AMOUNT} en-credits"
        )
        request_card.get_by_role("button", name="Approve").click()
        wait_for_app(admin)
        expect(admin.locator(SEL_EXCEPTION)).to_have_count(0)

        open_page(member, "My wallets")  # any next page view
        assert unread(member) == quiet + 1
        open_page(member, "Inbox")
        decision = member.locator('[class*="st-key-billing-inbox-note-"]').filter(has_text="approved").first
        expect(decision).to_contain_text(f"{AMOUNT} en-credits were added")
        _save_screenshot(member, "inbox-member", full_page=False)
        decision.get_by_role("button", name="Mark read").click()
        wait_for_app(member)
        assert unread(member) == quiet
    finally:
        member.context.close()
        admin.context.close()
