"""Two people at once in two browser contexts: each session keeps its own sign-in."""

from __future__ import annotations

from playwright.sync_api import expect

from .conftest import ADMIN_EMAIL, VIEWPORT, open_page, sign_in, wait_for_app

MEMBER = "alan@example.com"


def test_two_browsers_keep_their_own_sign_in(app_url, browser, page):
    sign_in(page, app_url, MEMBER)
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text(MEMBER, exact=True)).to_be_visible()

    other = browser.new_context(viewport=VIEWPORT)
    try:
        second = other.new_page()
        second.goto(app_url)
        wait_for_app(second, initial_wait_ms=0)
        # A new browser starts signed out, whatever the first one did.
        expect(second.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
        expect(second.get_by_text(MEMBER)).to_have_count(0)

        sign_in(second, app_url, ADMIN_EMAIL)
        expect(second.get_by_test_id("stSidebar").get_by_text(ADMIN_EMAIL, exact=True)).to_be_visible()
        expect(second.get_by_test_id("stSidebarNav").get_by_role("link", name="Approvals")).to_be_visible()

        # The first browser, running again, is still the member without an Approvals page.
        open_page(page, "My wallets")
        expect(page.get_by_test_id("stSidebar").get_by_text(MEMBER, exact=True)).to_be_visible()
        nav = page.get_by_test_id("stSidebarNav")
        expect(nav.get_by_role("link", name="Approvals")).to_have_count(0)
        expect(page.get_by_text(ADMIN_EMAIL, exact=True)).to_have_count(0)
    finally:
        other.close()
