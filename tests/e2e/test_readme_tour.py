"""The README's "A short tour", walked in Chromium step by step as written, as the accounts
it names (issue 10, item 10: it sent alan to Umbrella Labs, where he is not a member).

The test reads the tour from README.md: the accounts it names, the workspaces step 2 lists
and step 3 picks. Change the tour and this test walks the new text (or fails where the
text no longer matches the app). The served ledger is shared with other browser tests,
so amounts are read from the page and compared with each other.

Screenshots: tests/e2e/artifacts/tour-1-billing.png ... tour-5-analytics.png.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from .conftest import REPO_ROOT, SEL_EXCEPTION, open_page, sign_in, wait_for_app
from .test_admin_journey import whole_page
from .test_member_journey import TOAST, available_balance, sign_out

CHART = '[data-testid="stVegaLiteChart"]'


def tour_steps(readme: Path = REPO_ROOT / "README.md") -> list[str]:
    text = readme.read_text(encoding="utf-8")
    section = text.split("## A short tour", 1)[1].split("\n## ", 1)[0]
    steps = re.findall(r"^\d\. (.*?)(?=^\d\. |\Z)", section, flags=re.M | re.S)
    return [" ".join(s.split()) for s in steps]


STEPS = tour_steps()


def accounts(step: str) -> list[str]:
    return re.findall(r"\*\*([\w.-]+@example\.com)\*\*", step)


def figure(text: str) -> float:
    return float(re.search(r"-?[\d,]+\.\d+", text).group().replace(",", ""))


def metric(page: Page, label: str) -> float:
    box = page.get_by_test_id("stMetric").filter(has_text=label)
    return figure(box.get_by_test_id("stMetricValue").inner_text())


def pick(page: Page, workspace: str) -> None:
    page.get_by_test_id("stSelectbox").first.click()
    page.get_by_role("option", name=workspace, exact=True).click()
    wait_for_app(page)


def test_the_tour_has_five_steps_naming_its_accounts():
    assert len(STEPS) == 5, STEPS
    named = [a for step in STEPS for a in accounts(step)]
    assert named == ["alan@example.com", "margaret@example.com", "ada@example.com"], named


def test_the_readme_tour_works_as_written(app_url, page: Page, screenshot):
    one, two, three, four, five = STEPS
    [member] = accounts(one)
    [admin] = accounts(four)

    # 1. Billing, as the member: the wallet, the history and its tools, charts, a request.
    sign_in(page, app_url, member)
    expect(page.get_by_role("heading", name="Billing", exact=True)).to_be_visible()
    assert "(available balance, active/inactive)" in one
    expect(page.get_by_test_id("stMetric").filter(has_text="Available balance")).to_be_visible()
    expect(page.get_by_text(re.compile(r"^\W*(check_circle)?\s*Active$")).first).to_be_visible()
    for words, control in (("Load more", page.get_by_role("button", name="Load more")),
                           ("filters by type", page.get_by_text("Type", exact=True)),
                           ("dates", page.get_by_test_id("stDateInput").filter(has_text="Dates")),
                           ("text", page.get_by_role("textbox", name="Search")),
                           ("Download CSV", page.get_by_role("button", name="Download CSV"))):
        assert words in one
        expect(control.first).to_be_visible()
    assert "spend charts" in one
    expect(page.locator(CHART).first).to_be_visible()
    balance_before = available_balance(page)
    assert "*New request* asks for an amount, which starts **Pending**" in one
    page.get_by_role("button", name="New request").click()
    wait_for_app(page)
    page.get_by_role("dialog").get_by_role("textbox", name="Amount (en-credits)").fill("42.42")
    page.get_by_role("dialog").get_by_role("button", name="Submit request").click()
    wait_for_app(page)
    toast = page.locator(TOAST).filter(has_text="42.42 en-credits is pending approval")
    expect(toast).to_be_visible()
    request_id = re.search(r"#(\d+)", toast.inner_text()).group(1)
    expect(page.locator(f'[class*="st-key-billing-requests-pending-{request_id}"]')).to_have_count(1)
    whole_page(page, screenshot, "tour-1-billing")

    # 2. My wallets: every workspace he belongs to, usable and blocked apart.
    open_page(page, "My wallets")
    named = re.search(r"belongs to \(([^)]+)\)", two)
    listed = named.group(1).split(" and ") if named else ["Acme Research", "Hooli Data"]
    lines = page.locator('[class*="st-key-billing-wallets-line-"]')
    expect(lines).to_have_count(len(listed))
    for name in listed:
        expect(lines.filter(has_text=name)).to_have_count(1)
    if "apart, what the inactive wallet holds" in two:
        usable, blocked = metric(page, "Available to spend"), metric(page, "Blocked")
        hooli = figure(lines.filter(has_text="Hooli Data").inner_text().split("Hooli Data", 1)[1])
        assert blocked == hooli and usable == balance_before
    whole_page(page, screenshot, "tour-2-my-wallets")

    # 3. Use credits: a question costs 2 in the named workspace; the picked ones are blocked.
    open_page(page, "Use credits")
    expect(page.get_by_role("heading", name="Ask the AI assistant")).to_be_visible()
    assert '"Ask the AI assistant", 2 en-credits a question' in three
    spent = 0
    for spend_in in re.findall(r"ask one in \*\*([^*]+)\*\*", three):
        pick(page, spend_in)
        before = metric(page, f"Available in {spend_in}")
        page.get_by_role("textbox", name="Your question").fill("What did we spend last week?")
        page.get_by_role("button", name="Ask · 2.00 en-credits").click()
        wait_for_app(page)
        expect(page.locator(TOAST).filter(has_text="Charged 2.00 en-credits.")).to_be_visible()
        assert metric(page, f"Available in {spend_in}") == pytest.approx(before - 2)
        spent += 2
    picks = re.findall(r"Pick \*\*([^*]+)\*\*", three)
    assert picks, three
    for workspace in picks:  # each must be in HIS picker, and blocked
        page.get_by_test_id("stSelectbox").first.click()
        offered = page.get_by_role("option").all_inner_texts()
        page.keyboard.press("Escape")
        assert workspace in offered, f"step 3 picks {workspace}; {member} is offered {offered}"
        pick(page, workspace)
        expect(page.get_by_text("No credits available", exact=False).first).to_be_visible()
        expect(page.get_by_role("button", name="Ask · 2.00 en-credits")).to_be_disabled()
    screenshot("tour-3-use-credits", full_page=False)
    sign_out(page)
    [other] = accounts(three)
    assert "Umbrella Labs (balance 0) is blocked the same way" in three
    sign_in(page, app_url, other)
    open_page(page, "Use credits")
    pick(page, "Umbrella Labs")
    expect(page.get_by_text("No credits available", exact=False).first).to_be_visible()
    expect(page.get_by_role("button", name="Ask · 2.00 en-credits")).to_be_disabled()
    screenshot("tour-3-use-credits-umbrella", full_page=False)
    sign_out(page)

    # 4. Approvals, as the admin: every part the step lists; approve the member's request.
    sign_in(page, app_url, admin)
    open_page(page, "Approvals")
    card = page.locator(f".st-key-billing-approvals-card-{request_id}")
    expect(card).to_be_visible()
    expect(card.get_by_text(re.compile("Asked by Alan Turing"))).to_be_visible()
    for words, shown in (
        ("reject with a note", card.get_by_role("textbox", name="Decision note")),
        ("several at once", page.get_by_role("button", name="Approve selected")),
        ("activate/deactivate", page.get_by_role("button", name=re.compile(r"activate wallet$"))),
        ("spend by workspace", page.get_by_role("heading", name=re.compile("^Spend by workspace"))),
        ("the decisions log", page.get_by_role("heading", name="Decisions log")),
    ):
        assert words in four
        expect(shown.first).to_be_attached()
    assert "every wallet with its 30-day spend and projected run-out date" in four
    wallets = page.get_by_test_id("stDataFrame").first
    wallets.scroll_into_view_if_needed()
    expect(wallets.locator('[role="columnheader"]').first).to_be_attached()
    headers = wallets.locator('[role="columnheader"]').all_inner_texts()
    assert {"30-day spend", "Runs out on"} <= set(headers), headers
    card.scroll_into_view_if_needed()
    note = card.get_by_role("textbox", name="Decision note")
    note.fill("Approved on the README tour")
    note.press("Enter")
    wait_for_app(page)
    page.locator(f".st-key-billing-approvals-approve-{request_id} button").click()
    wait_for_app(page)
    expect(page.locator(TOAST).filter(has_text=f"Approved #{request_id}")).to_be_visible()
    expect(card).to_have_count(0)
    whole_page(page, screenshot, "tour-4-approvals")

    # 5. Spend analytics: every chart with its CSV for the admin; scoped for the member.
    open_page(page, "Spend analytics")
    expect(page.locator(CHART)).to_have_count(5)
    # each chart's CSV, and the usage-in-units table's
    expect(page.get_by_role("button", name="Download CSV")).to_have_count(6)
    for unit in ("Day", "Week", "Month"):
        assert unit.lower() in five
        expect(page.get_by_role("radio", name=unit, exact=True)).to_be_visible()
    expect(page.locator(SEL_EXCEPTION)).to_have_count(0)
    whole_page(page, screenshot, "tour-5-analytics")
    sign_out(page)

    # ... and his balance grew by exactly the approved amount, once (the race of two
    # admins is pinned by tests/hardening/test_double_approval.py).
    assert "his balance grows by exactly that amount, once" in four
    sign_in(page, app_url, member)
    assert available_balance(page) == pytest.approx(balance_before - spent + 42.42)
    open_page(page, "Spend analytics")
    page.get_by_test_id("stSelectbox").first.click()
    options = page.get_by_role("option").all_inner_texts()
    assert options == ["All my workspaces", *listed], options
    page.keyboard.press("Escape")
    expect(page.locator(SEL_EXCEPTION)).to_have_count(0)
