"""Approvals in a real browser: issue 10, items 3, 5, 6, 8 (Approvals), 9 and 12 (the
tables' own export).

Screenshots land in tests/e2e/artifacts/: approvals-status-after-deactivate.png,
approvals-member.png, approvals-phone-table.png, approvals-tables.png.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from .conftest import ADMIN_EMAIL, SEL_EXCEPTION, open_page, sign_in, wait_for_app
from .test_admin_journey import whole_page

MEMBER = "alan@example.com"
PICKER = ".st-key-billing-approvals-status_pick"
STATUS_NOW = ".st-key-billing-approvals-status_now"
STATUS_BUTTON = ".st-key-billing-approvals-status_button button"
TABLE = '[data-testid="stDataFrame"]'


def sign_in_at(page: Page, app_url: str, path: str, email: str) -> None:
    """Open an address of the app signed out, sign in there; the page then opens itself.
    The root is opened first: until a first session has run app.py, a fresh Streamlit
    server maps /approvals to pages/approvals.py itself (its pages/ folder), not to the
    app's navigation."""
    page.goto(app_url)
    wait_for_app(page, initial_wait_ms=0)
    page.goto(f"{app_url}/{path}")
    wait_for_app(page, initial_wait_ms=0)
    page.get_by_role("textbox", name="Email").fill(email)
    page.get_by_role("textbox", name="Password").fill("en-credits-demo")
    page.get_by_role("button", name="Sign in", exact=True).click()
    wait_for_app(page)


def pick_wallet(page: Page, name: str) -> None:
    page.locator(PICKER).scroll_into_view_if_needed()
    page.locator(PICKER).get_by_role("combobox").click()
    # (a label may carry more than the name: before issue 10 it read "Initech Support (active)")
    page.locator('[role="option"]').filter(has_text=re.compile(f"^{re.escape(name)}\\b")).click()
    wait_for_app(page)


def picked(page: Page) -> str:
    """What the wallet picker shows as chosen (the value of its combobox input)."""
    return page.locator(PICKER).get_by_role("combobox").input_value()


def columns_on_screen(table) -> list[str]:
    """The header cells the grid rendered: only the columns in view (it virtualises)."""
    return table.locator('[role="columnheader"]').all_inner_texts()


def column_cells(table, index: int) -> list[str]:
    """The values of one column's rendered cells (glide-cell-<column>-<row>): the grid's
    accessible copy holds the raw values; the formatted ones are drawn on its canvas."""
    expect(table.locator(f'[data-testid="glide-cell-{index}-0"]')).to_have_count(1)
    return table.locator(f'[data-testid^="glide-cell-{index}-"]').all_inner_texts()


def test_the_status_beside_the_wallet_picker_follows_a_change(app_url, page: Page, screenshot):
    """Item 3: after Deactivate the picker said "Initech Support (active)"."""
    sign_in(page, app_url, ADMIN_EMAIL)
    open_page(page, "Approvals")
    pick_wallet(page, "Initech Support")
    expect(page.locator(STATUS_BUTTON)).to_contain_text("Deactivate wallet")
    page.locator(STATUS_BUTTON).click()
    wait_for_app(page)
    try:
        expect(page.get_by_test_id("stToast").filter(has_text="now inactive")).to_be_visible()
        picker = picked(page)
        assert "Initech Support" in picker and "(active)" not in picker, picker
        expect(page.locator(STATUS_NOW)).to_contain_text("Inactive")
        expect(page.locator(STATUS_BUTTON)).to_contain_text("Activate wallet")
        page.locator(PICKER).scroll_into_view_if_needed()
        screenshot("approvals-status-after-deactivate", full_page=False)
    finally:  # other tests share the served ledger: reactivate
        if "Activate wallet" == page.locator(STATUS_BUTTON).inner_text().split("\n")[-1].strip():
            page.locator(STATUS_BUTTON).click()
            wait_for_app(page)
    expect(page.locator(STATUS_NOW)).to_contain_text("Active")
    assert "(inactive)" not in picked(page)


def test_a_member_signing_in_at_the_approvals_address_is_told_it_is_for_administrators(
    app_url, page: Page, screenshot
):
    """Item 9: a member who opened /approvals was silently moved to Billing."""
    sign_in_at(page, app_url, "approvals", MEMBER)
    expect(page.get_by_role("heading", name="Approvals", exact=True)).to_be_visible()
    expect(page.get_by_test_id("stAlert").filter(
        has_text="Approvals are for administrators only")).to_be_visible()
    assert page.url.endswith("/approvals")
    nav = page.get_by_test_id("stSidebarNav")
    expect(nav.get_by_role("link", name="Billing")).to_be_visible()
    expect(nav.get_by_role("link", name="Approvals")).to_have_count(0)  # not in his menu
    expect(page.locator(TABLE)).to_have_count(0)
    expect(page.locator(SEL_EXCEPTION)).to_have_count(0)
    screenshot("approvals-member", full_page=False)


def test_at_phone_width_the_wallet_table_shows_health_first(app_url, page: Page, screenshot):
    """Item 8 (Approvals): at 390x844 the table's first screen hid Health."""
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in_at(page, app_url, "approvals", ADMIN_EMAIL)
    expect(page.get_by_role("heading", name="Approvals", exact=True)).to_be_visible()
    wallets = page.locator(TABLE).first
    wallets.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    shown = columns_on_screen(wallets)
    assert shown[:3] == ["Workspace", "Health", "Balance"], shown
    assert "Runs out on" in shown, shown
    health = column_cells(wallets, 1)
    assert {"Zero balance", "Inactive"} <= set(health), health
    box = wallets.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390
    wallets.screenshot(path=str(screenshot("approvals-phone", full_page=False).with_name(
        "approvals-phone-table.png")))


def test_tables_say_what_a_missing_date_means_and_group_thousands(app_url, page: Page, screenshot):
    """Item 5: no grey "None" where a wallet has no run-out date. Item 12: the tables offer
    no export of their own (the grid's CSV download and copy bypass the export helper);
    the Download CSV buttons under them do. Item 6 (amounts drawn as 5,000.00 on the
    grid's canvas) is pinned by the page test on the Styler's display values; the
    screenshot shows it."""
    sign_in(page, app_url, ADMIN_EMAIL)
    open_page(page, "Approvals")
    wallets, log = page.locator(TABLE).nth(0), page.locator(TABLE).nth(1)
    wallets.scroll_into_view_if_needed()
    rows = column_cells(wallets, 0)
    hooli = rows.index("Hooli Data")
    runs_out = column_cells(wallets, 3)
    assert runs_out[hooli] == "inactive", runs_out
    assert "None" not in runs_out
    days_left = column_cells(wallets, 4)
    assert days_left[hooli] == "inactive", days_left  # was a grey "None" on the canvas
    for table in (wallets, log):
        table.hover()
        expect(table.get_by_role("button", name="Download as CSV")).to_have_count(0)
    tables = page.locator(TABLE).count()  # the wallets, the decisions log, the rate card
    assert tables >= 3
    expect(page.get_by_role("button", name="Download CSV")).to_have_count(tables)
    whole_page(page, screenshot, "approvals-tables")
