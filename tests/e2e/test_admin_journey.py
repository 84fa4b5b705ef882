"""An administrator's journey in a real browser: sign in, approve the oldest pending
request with a note, see the success and the books refreshed, look at Spend analytics.

Screenshots land in tests/e2e/artifacts/ (admin-approvals.png, admin-analytics.png).
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from .conftest import (
    ADMIN_EMAIL,
    DEMO_PASSWORD,
    SEL_EXCEPTION,
    open_page,
    sign_in,
    wait_for_app,
)

CARD = '[class*="st-key-billing-approvals-card-"]'
TOAST = '[data-testid="stToast"]'
CHART = '[data-testid="stVegaLiteChart"]'


def credits_in(text: str) -> float:
    return float(re.search(r"([\d,]+\.\d+) en-credits", text).group(1).replace(",", ""))


def total_balance(page: Page) -> float:
    metric = page.get_by_test_id("stMetric").filter(has_text="Total balance")
    return float(metric.get_by_test_id("stMetricValue").inner_text().replace(",", ""))


def whole_page(page: Page, screenshot, name: str) -> None:
    """Streamlit scrolls inside its main block, so a full-page shot shows only the
    viewport: grow the viewport to the content first, shoot, then restore it."""
    size = page.viewport_size
    height = page.get_by_test_id("stMain").evaluate("e => e.scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], height + 40)})
    page.wait_for_timeout(500)  # let the charts re-layout
    screenshot(name)
    page.set_viewport_size(size)


def test_admin_approves_the_oldest_request_and_explores_spend(app_url, page, screenshot):
    sign_in(page, app_url, ADMIN_EMAIL, DEMO_PASSWORD)
    open_page(page, "Approvals")
    expect(page.locator(SEL_EXCEPTION)).to_have_count(0)

    cards = page.locator(CARD)
    expect(cards.first).to_be_visible()
    oldest = cards.first
    heading = oldest.get_by_test_id("stMarkdown").first.inner_text()
    request_id = re.search(r"request #(\d+)", heading).group(1)
    amount = credits_in(heading)
    before = total_balance(page)
    count = cards.count()

    note = oldest.get_by_role("textbox", name="Decision note")
    note.fill("Approved in the browser test")
    note.press("Enter")
    wait_for_app(page)
    page.locator(f".st-key-billing-approvals-approve-{request_id} button").click()
    wait_for_app(page)

    expect(page.locator(TOAST).filter(has_text=f"Approved #{request_id}")).to_be_visible()
    expect(page.locator(f".st-key-billing-approvals-card-{request_id}")).to_have_count(0)
    expect(cards).to_have_count(count - 1)
    # The whole page reran, not only the queue: the wallet totals include the credit.
    assert abs(total_balance(page) - (before + amount)) < 0.005
    expect(page.locator(SEL_EXCEPTION)).to_have_count(0)
    whole_page(page, screenshot, "admin-approvals")

    open_page(page, "Spend analytics")
    expect(page.locator(CHART)).to_have_count(5)
    for chart in page.locator(CHART).all():
        expect(chart.locator("canvas, svg").first).to_be_visible()
    expect(page.get_by_role("button", name="Download CSV")).to_have_count(5)
    expect(page.locator(SEL_EXCEPTION)).to_have_count(0)
    whole_page(page, screenshot, "admin-analytics")
