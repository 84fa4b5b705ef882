"""The Billing page in a real browser: continuous loading of the history, its CSV, Back
with a workspace picker, a phone-width screen and readable spend charts.

Screenshots land in tests/e2e/artifacts/ (billing-history-350.png, billing-phone.png,
billing-phone-spend-90.png, billing-spend-30.png, billing-spend-90.png). Other tests share
the served ledger, so counts are read from the page, never assumed.
"""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from pathlib import Path

from playwright.sync_api import Page, expect

from .conftest import ARTIFACTS_DIR, SEL_EXCEPTION, open_page, sign_in, wait_for_app

MEMBER = "alan@example.com"
HISTORY = ".st-key-billing-history-list"
ROWS = f'{HISTORY} [role="row"].row'
PHONE = {"width": 390, "height": 844}
PAGE_SIZE = 50
SHOWN = re.compile(r"^[\d,]+ transactions shown")


def shoot(element, name: str) -> Path:
    """A screenshot of one element, tests/e2e/artifacts/<name>.png."""
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS_DIR / f"{name}.png"
    element.screenshot(path=str(path))
    return path


def shown_count(page: Page) -> int:
    caption = page.get_by_text(SHOWN).inner_text()
    return int(caption.split()[0].replace(",", ""))


def scroll_top(page: Page) -> float:
    return float(page.get_by_test_id("stMain").evaluate("e => e.scrollTop"))


def wheel_to_the_end(page: Page) -> None:
    """A reader's wheel with the pointer on the list, down as far as it goes."""
    history = page.locator(HISTORY)
    history.scroll_into_view_if_needed()
    box = history.bounding_box()
    top, bottom = max(box["y"], 0), min(box["y"] + box["height"], page.viewport_size["height"])
    page.mouse.move(box["x"] + box["width"] / 2, (top + bottom) / 2)
    page.mouse.wheel(0, 200_000)


def visible_in_viewport(page: Page, row) -> bool:
    """The row is on screen and is what the reader sees at its centre (not hidden by a
    scroller inside the list)."""
    return bool(row.evaluate(
        """r => {
            const b = r.getBoundingClientRect();
            if (b.top < 0 || b.bottom > innerHeight || b.height === 0) return false;
            const hit = r.getRootNode().elementFromPoint(b.left + b.width / 2, b.top + b.height / 2);
            return r.contains(hit);
        }"""
    ))


def nested_scrollers(row) -> list[str]:
    """Elements between a row and the page's own scroller that scroll or clip their content."""
    return list(row.evaluate(
        """r => {
            const out = [];
            let e = r.parentNode;
            while (e) {
                if (e instanceof ShadowRoot) { e = e.host; continue; }
                if (e.getAttribute && e.getAttribute("data-testid") === "stMain") break;
                const style = getComputedStyle(e);
                const clips = ["auto", "scroll", "hidden"].includes(style.overflowY);
                if (clips && e.scrollHeight > e.clientHeight + 1) out.push(e.className || e.tagName);
                e = e.parentNode;
            }
            return out;
        }"""
    ))


# --- continuous loading (issue 10, item 1) -----------------------------------------------


def test_history_loads_one_page_per_arrival_and_nothing_while_the_reader_rests(
    app_url, page: Page, screenshot
):
    sign_in(page, app_url, MEMBER)
    expect(page.get_by_text(f"{PAGE_SIZE} transactions shown")).to_be_visible()
    while shown_count(page) < 350:
        before = shown_count(page)
        wheel_to_the_end(page)
        expect(page.get_by_text(SHOWN)).not_to_have_text(re.compile(f"^{before:,} "))
        wait_for_app(page)
        page.wait_for_timeout(1000)
        assert shown_count(page) == before + PAGE_SIZE  # one page per arrival, no more
    settled = shown_count(page)
    page.wait_for_timeout(20_000)  # the reader stops scrolling: nothing loads by itself
    wait_for_app(page)
    assert shown_count(page) == settled

    # Every loaded row is reached by scrolling the page: going to the last one is arriving
    # at the end (one more page loads below it), and it is then on screen.
    rows = page.locator(ROWS)
    expect(rows).to_have_count(settled)
    last = rows.nth(settled - 1)
    assert nested_scrollers(last) == []
    wheel_to_the_end(page)
    expect(rows).to_have_count(settled + PAGE_SIZE)
    wait_for_app(page)
    assert visible_in_viewport(page, last)
    expect(page.locator(SEL_EXCEPTION)).to_have_count(0)
    screenshot("billing-history-350", full_page=False)


def test_the_wheel_over_the_list_scrolls_the_page_and_loads_at_the_end(app_url, page: Page):
    sign_in(page, app_url, MEMBER)
    expect(page.get_by_text(f"{PAGE_SIZE} transactions shown")).to_be_visible()
    history = page.locator(HISTORY)
    history.evaluate("e => e.scrollIntoView({block: 'start'})")  # its bottom below the fold
    box = history.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 120)  # the pointer on the list
    start = scroll_top(page)
    page.mouse.wheel(0, 600)
    page.wait_for_timeout(400)
    assert scroll_top(page) >= start + 500  # the page moved: no scroller inside the list
    assert shown_count(page) == PAGE_SIZE
    for _ in range(40):  # keep reading down with the pointer on the list
        page.mouse.wheel(0, 600)
        page.wait_for_timeout(150)
        if shown_count(page) > PAGE_SIZE:
            break
    wait_for_app(page)
    assert shown_count(page) == 2 * PAGE_SIZE


# --- the CSV (item 2) ------------------------------------------------------------------


def download_csv(page: Page) -> tuple[str, list[list[str]]]:
    with page.expect_download() as info:
        # the history's (the charts above it have their own Download CSV)
        page.locator(".st-key-billing-history-csv").get_by_role("button", name="Download CSV").click()
    download = info.value
    text = open(download.path(), encoding="utf-8", newline="").read()
    return download.suggested_filename, list(csv.reader(io.StringIO(text)))


def test_the_csv_is_the_whole_filtered_history_not_the_loaded_rows(app_url, page: Page):
    sign_in(page, app_url, MEMBER)
    expect(page.get_by_text(f"{PAGE_SIZE} transactions shown")).to_be_visible()
    name, (header, *body) = download_csv(page)
    assert name == "acme-research_transactions.csv"
    assert header == ["id", "date (UTC)", "type", "amount", "feature", "description"]
    assert len(body) > 20 * PAGE_SIZE  # every transaction, not the 50 shown
    ids = [int(r[0]) for r in body]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
    for row in body:  # amounts are signed numbers
        assert (Decimal(row[3]) < 0) == (row[2] == "debit")

    page.locator(".st-key-billing-history-kind").get_by_text("Credits", exact=True).click()
    wait_for_app(page)
    expect(page.get_by_text("that is the whole history", exact=False)).to_be_visible()
    name, (_, *credits) = download_csv(page)
    assert name == "acme-research_transactions_credits.csv"
    assert len(credits) == shown_count(page) and {r[2] for r in credits} == {"credit"}


# --- Back with a workspace picker (item 7) -----------------------------------------------


def heading(page: Page, title: str) -> None:
    wait_for_app(page)
    expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()


def picker(page: Page):
    return page.get_by_role("combobox", name="Workspace")


def pick(page: Page, workspace: str) -> None:
    picker(page).click()
    page.get_by_role("option", name=workspace).click()
    wait_for_app(page)
    expect(picker(page)).to_have_value(workspace)


def test_back_leaves_a_page_with_a_workspace_picker_in_one_press(app_url, page: Page):
    sign_in(page, app_url, MEMBER)  # lands on Billing
    open_page(page, "My wallets")
    page.go_back()
    heading(page, "Billing")
    open_page(page, "My wallets")
    open_page(page, "Billing")
    page.go_back()
    heading(page, "My wallets")  # one press, not two
    page.go_forward()
    heading(page, "Billing")


def test_back_after_picking_a_workspace(app_url, page: Page):
    sign_in(page, app_url, MEMBER)
    open_page(page, "My wallets")
    open_page(page, "Billing")
    pick(page, "Hooli Data")
    page.go_back()
    heading(page, "My wallets")  # a pick on the plain address is not a page of its own

    page.get_by_role("link", name="Open billing").last.click()  # a link to Hooli Data
    heading(page, "Billing")
    assert "workspace=6" in page.url
    pick(page, "Acme Research")
    assert "workspace=1" in page.url  # the address stays true to the choice
    page.go_back()
    heading(page, "Billing")
    expect(picker(page)).to_have_value("Hooli Data")
    expect(page.get_by_text("No credits available: features that use en-credits are blocked.")
           ).to_be_visible()
    page.go_back()
    heading(page, "My wallets")


# --- a phone (item 8) and readable charts (item 11) ------------------------------------


def sideways_scrollers(element) -> list[str]:
    """Elements inside `element` (shadow roots too) whose content is wider than they are."""
    return list(element.evaluate(
        """root => {
            const out = [];
            const walk = (node) => {
                for (const e of node.querySelectorAll("*")) {
                    const style = getComputedStyle(e);
                    if (["auto", "scroll"].includes(style.overflowX) && e.scrollWidth > e.clientWidth + 1)
                        out.push(e.className || e.tagName);
                    if (e.shadowRoot) walk(e.shadowRoot);
                }
            };
            walk(root);
            return out;
        }"""
    ))


def chart_fits(chart) -> bool:
    """The chart's drawing is no wider than its place on the page."""
    return bool(chart.evaluate(
        """c => { const svg = c.querySelector("svg"); if (!svg) return false;
                  return svg.getBoundingClientRect().width <= c.getBoundingClientRect().width + 1
                         && svg.getBoundingClientRect().right <= innerWidth; }"""
    ))


def bar_cover(chart) -> float:
    """How much of the plot's width the bars cover (hairlines cover little)."""
    return float(chart.evaluate(
        """c => {
            const bars = [...c.querySelectorAll("g.mark-rect path")]
                .map(p => p.getBoundingClientRect()).filter(b => b.height > 0);
            if (!bars.length) return 0;
            const left = Math.min(...bars.map(b => b.left)), right = Math.max(...bars.map(b => b.right));
            const xs = new Set();
            for (const b of bars) for (let x = Math.floor(b.left); x < Math.ceil(b.right); x++) xs.add(x);
            return xs.size / (right - left);
        }"""
    ))


def test_billing_at_phone_width_keeps_every_column_and_chart_on_screen(
    app_url, page: Page, screenshot
):
    page.set_viewport_size(PHONE)
    sign_in(page, app_url, MEMBER)
    expect(page.get_by_text(f"{PAGE_SIZE} transactions shown")).to_be_visible()
    main = page.get_by_test_id("stMain")
    assert main.evaluate("e => e.scrollWidth <= e.clientWidth")  # no sideways scroll
    assert sideways_scrollers(page.locator(HISTORY)) == []  # none inside the list either
    rows = page.locator(ROWS)
    expect(rows).to_have_count(PAGE_SIZE)
    newest = rows.first
    newest.scroll_into_view_if_needed()
    for cell in ("amount", "type", "description", "feature", "date"):
        box = newest.locator(f".{cell}").bounding_box()
        assert box is not None and box["width"] > 0, cell
        assert 0 <= box["x"] and box["x"] + box["width"] <= PHONE["width"], cell
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", newest.locator(".date").inner_text())
    charts = page.get_by_test_id("stVegaLiteChart")
    expect(charts).to_have_count(2)
    for i in range(2):
        charts.nth(i).scroll_into_view_if_needed()
        assert chart_fits(charts.nth(i)), i
    screenshot("billing-phone", full_page=False)
    page.get_by_text("Last 90 days").click()
    wait_for_app(page)
    spend = charts.first
    spend.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    assert chart_fits(spend)
    assert bar_cover(spend) > 0.85  # 90 daily bars fill their slots: no hairlines
    shoot(spend, "billing-phone-spend-90")


def test_spend_bars_are_readable_for_30_and_90_days(app_url, page: Page):
    sign_in(page, app_url, MEMBER)
    spend = page.get_by_test_id("stVegaLiteChart").first
    spend.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    thirty = bar_cover(spend)
    assert 0.6 < thirty < 0.95  # 30 bars with gaps between them
    shoot(spend, "billing-spend-30")
    page.get_by_text("Last 90 days").click()
    wait_for_app(page)
    page.wait_for_timeout(500)
    assert bar_cover(spend) > 0.85
    shoot(spend, "billing-spend-90")
