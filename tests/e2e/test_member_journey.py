"""A member's journey in a real browser: sign in, see the balance, scroll the history so
more loads by itself, press Load more, ask for credits in the dialog, see it Pending, visit
My wallets and Use credits, sign out from the sidebar.

Screenshots land in tests/e2e/artifacts/ (billing.png, request-dialog.png,
my-wallets.png, use-credits.png). Other tests share the served ledger, so nothing here
assumes exact balances: numbers are read from the page and compared with each other.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from .conftest import (
    ADMIN_EMAIL,
    SEL_EXCEPTION,
    open_page,
    sign_in,
    wait_for_app,
)

MEMBER = "alan@example.com"
HISTORY = ".st-key-billing-history-list"
ROWS = f'{HISTORY} [role="row"].row'  # the list's rows (in its shadow root)
TOAST = '[data-testid="stToast"]'


def whole_page(page: Page, screenshot, name: str) -> None:
    """Streamlit scrolls inside its main block, so a full-page shot shows only the
    viewport: grow the viewport to the content first, shoot, then restore it."""
    size = page.viewport_size
    height = page.get_by_test_id("stMain").evaluate("e => e.scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], height + 40)})
    page.wait_for_timeout(500)  # let the charts lay out again
    screenshot(name)
    page.set_viewport_size(size)


def sign_out(page: Page) -> None:
    page.get_by_test_id("stSidebar").get_by_role("button", name="Sign out").click()
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()


def available_balance(page: Page) -> float:
    metric = page.get_by_test_id("stMetric").filter(has_text="Available balance")
    text = metric.get_by_test_id("stMetricValue").inner_text()
    return float(text.removesuffix(" en-credits").replace(",", ""))


def shown_count(page: Page) -> int:
    caption = page.get_by_text(re.compile(r"^[\d,]+ transactions shown")).inner_text()
    return int(caption.split()[0].replace(",", ""))


def test_member_billing_journey(app_url, page: Page, screenshot):
    sign_in(page, app_url, MEMBER)
    expect(page.get_by_role("heading", name="Billing", exact=True)).to_be_visible()
    expect(page.locator(SEL_EXCEPTION)).to_have_count(0)

    # The wallet card: the balance as "1,234.50 en-credits" and the status badge.
    balance = page.get_by_test_id("stMetric").filter(has_text="Available balance")
    expect(balance.get_by_test_id("stMetricValue")).to_have_text(re.compile(r"^[\d,]+\.\d{2,4} en-credits$"))
    expect(page.get_by_text(re.compile(r"^\W*(check_circle)?\s*Active$")).first).to_be_visible()

    # Continuous loading: scrolling the page to the end of the list loads the next page.
    rows = page.locator(ROWS)
    expect(rows).to_have_count(50)
    assert shown_count(page) == 50
    rows.first.scroll_into_view_if_needed()
    rows.first.hover()
    for _ in range(20):
        page.mouse.wheel(0, 800)
        page.wait_for_timeout(150)
        if rows.count() > 50:
            break
    wait_for_app(page)
    expect(rows).to_have_count(100)
    assert shown_count(page) == 100

    # The button at the end of the list: reaching it is reaching the end (one more page),
    # and pressing it loads one more.
    load_more = page.get_by_role("button", name="Load more")
    load_more.scroll_into_view_if_needed()
    expect(rows).to_have_count(150)
    wait_for_app(page)
    load_more.click()
    expect(rows).to_have_count(200)
    wait_for_app(page)
    assert shown_count(page) == 200
    expect(page.locator(SEL_EXCEPTION)).to_have_count(0)

    # Ask for credits in the dialog; it then waits as Pending.
    pending_tab = page.get_by_role("tab", name=re.compile(r"^Pending \(\d+\)$"))
    pending_before = int(re.search(r"\d+", pending_tab.inner_text()).group())
    page.get_by_role("button", name="New request").click()
    wait_for_app(page)
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("textbox", name="Amount (en-credits)").fill("1e3")
    dialog.get_by_role("button", name="Submit request").click()
    wait_for_app(page)
    expect(dialog.get_by_text("Enter the amount as a plain number of credits")).to_be_visible()
    dialog.get_by_role("textbox", name="Amount (en-credits)").fill("123.45")
    dialog.get_by_role("textbox", name="Note (optional)").fill("Browser test <b>note</b>")
    screenshot("request-dialog", full_page=False)
    dialog.get_by_role("button", name="Submit request").click()
    wait_for_app(page)
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.locator(TOAST).filter(has_text="123.45 en-credits is pending approval")).to_be_visible()
    expect(pending_tab).to_have_text(f"Pending ({pending_before + 1})")
    card = page.locator('[class*="st-key-billing-requests-pending-"]').filter(has_text="123.45 en-credits")
    expect(card).to_have_count(1)
    expect(card.get_by_text("Browser test <b>note</b>", exact=True)).to_be_visible()
    whole_page(page, screenshot, "billing")

    # My wallets: one line per workspace, each with a link back to its Billing page.
    open_page(page, "My wallets")
    expect(page.get_by_role("link", name="Open billing")).to_have_count(2)
    expect(page.get_by_text("Hooli Data", exact=True)).to_be_visible()
    whole_page(page, screenshot, "my-wallets")
    page.get_by_role("link", name="Open billing").last.click()
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Billing", exact=True)).to_be_visible()
    expect(
        page.get_by_text("No credits available: features that use en-credits are blocked.")
    ).to_be_visible()  # Hooli Data is inactive

    # Use credits: blocked on the inactive wallet, then a paid question on Acme Research.
    open_page(page, "Use credits")
    expect(page.get_by_role("button", name="Ask · 2.00 en-credits")).to_be_disabled()
    page.get_by_test_id("stSelectbox").click()
    page.get_by_role("option", name="Acme Research").click()
    wait_for_app(page)
    ask = page.get_by_role("button", name="Ask · 2.00 en-credits")
    expect(ask).to_be_enabled()
    page.get_by_role("textbox", name="Your question").fill("How are we doing?")
    ask.click()
    wait_for_app(page)
    expect(page.locator(TOAST).filter(has_text="Charged 2.00 en-credits.")).to_be_visible()
    whole_page(page, screenshot, "use-credits")

    # Signing out from the sidebar leaves nothing but the sign-in page.
    sign_out(page)
    expect(page.get_by_test_id("stSidebarNav")).to_have_count(0)


def test_request_approved_by_an_admin_reaches_the_members_balance(app_url, page: Page):
    sign_in(page, app_url, MEMBER)
    before = available_balance(page)
    page.get_by_role("button", name="New request").click()
    wait_for_app(page)
    page.get_by_role("dialog").get_by_role("textbox", name="Amount (en-credits)").fill("77.77")
    page.get_by_role("dialog").get_by_role("button", name="Submit request").click()
    wait_for_app(page)
    toast = page.locator(TOAST).filter(has_text="77.77 en-credits is pending approval")
    expect(toast).to_be_visible()
    request_id = re.search(r"#(\d+)", toast.inner_text()).group(1)
    sign_out(page)

    # An administrator approves it on the Approvals page.
    sign_in(page, app_url, ADMIN_EMAIL)
    open_page(page, "Approvals")
    card = page.locator(f".st-key-billing-approvals-card-{request_id}")
    expect(card).to_be_visible()
    note = card.get_by_role("textbox", name="Decision note")
    note.fill("Approved from the member journey")
    note.press("Enter")
    wait_for_app(page)
    page.locator(f".st-key-billing-approvals-approve-{request_id} button").click()
    wait_for_app(page)
    expect(page.locator(f".st-key-billing-approvals-card-{request_id}")).to_have_count(0)
    sign_out(page)

    # Back as the member: the credits are in the wallet and the request is Approved.
    sign_in(page, app_url, MEMBER)
    assert abs(available_balance(page) - (before + 77.77)) < 0.005
    page.get_by_role("tab", name=re.compile(r"^Approved")).click()
    approved = page.get_by_test_id("stDataFrame").filter(has_text="Decision note")
    expect(approved.get_by_text(f"#{request_id}", exact=True)).to_be_attached()  # a grid cell
    expect(page.locator(SEL_EXCEPTION)).to_have_count(0)
