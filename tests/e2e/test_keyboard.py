"""Keyboard only (issue 17): sign in, open Billing, submit a request (a refused amount first),
cancel it, and as an administrator approve one, never touching the mouse; after each step
focus is where a keyboard user needs it, never lost to the page's body.

One browser page and one sign-in for the whole walk. Ada is an administrator and a member
of Acme Research; she approves Globex Marketing's request (no other browser test reads
Globex), not her own (nobody approves their own).
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from .conftest import ADMIN_EMAIL, DEMO_PASSWORD, wait_for_app

FOCUSED = "document.activeElement"
TOAST = '[data-testid="stToast"]'


def focused(page: Page, script: str) -> object:
    """Evaluate `script` with `el` bound to the focused element."""
    return page.evaluate(f"() => {{ const el = {FOCUSED}; return {script}; }}")


def tab_to(page: Page, test: str, *, limit: int, back: bool = False) -> int:
    """Press Tab (Shift+Tab) until `test` (JavaScript over `el`) holds for the focused
    element; return how many presses it took."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        if focused(page, f"!!({test})"):
            return presses
    raise AssertionError(f"{test} not reached in {limit} presses; focus is on "
                         f"{focused(page, 'el.outerHTML.slice(0, 200)')}")


def inside(key: str) -> str:
    return f"el.closest('.st-key-{key}') !== null"


def test_a_keyboard_user_signs_in_requests_cancels_and_approves(app_url: str, page: Page) -> None:
    page.goto(app_url)
    wait_for_app(page, initial_wait_ms=0)

    # Sign in: Tab to the email, type, Tab to the password, Enter submits the form.
    tab_to(page, "el.getAttribute('aria-label') === 'Email'", limit=10)
    page.keyboard.type(ADMIN_EMAIL)
    page.keyboard.press("Tab")
    assert focused(page, "el.getAttribute('aria-label')") == "Password"
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Billing", exact=True)).to_be_visible()
    expect(page.locator("h1")).to_be_focused()  # not the page's body

    # New request: reachable from the heading in a few presses, past the workspace picker.
    presses = tab_to(page, inside("billing-requests-new"), limit=12)
    page.keyboard.press("Enter")
    wait_for_app(page)
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    amount = dialog.get_by_role("textbox", name="Amount (en-credits)")
    if not focused(page, "el.getAttribute('aria-label') === 'Amount (en-credits)'"):
        tab_to(page, "el.getAttribute('aria-label') === 'Amount (en-credits)'", limit=5)
    page.keyboard.type("1e3")
    page.keyboard.press("Enter")
    wait_for_app(page)
    # The refusal is tied to the field: invalid, and described by the alert that says why.
    expect(amount).to_have_attribute("aria-invalid", "true")
    described = amount.get_attribute("aria-describedby")
    assert described, "the amount field names no description"
    expect(page.locator(f"#{described}")).to_contain_text(
        "Enter the amount as a plain number of credits")
    page.keyboard.press("Control+A")
    page.keyboard.type("12.5")
    page.keyboard.press("Enter")
    wait_for_app(page)
    expect(dialog).to_have_count(0)
    # Back on the button that opened the dialog; the toast is repeated in the page.
    expect(page.locator(".st-key-billing-requests-new button")).to_be_focused()
    status = page.get_by_role("status").filter(has_text="12.50 en-credits is pending approval")
    expect(status).to_be_visible()
    request_id = re.search(r"#(\d+)", status.inner_text()).group(1)

    # Cancel it: the card goes; focus moves to another pending card's Cancel, or to the
    # section's heading when it was the last (other tests may have decided Acme's others).
    mine = f"billing-requests-cancel-{request_id}"
    cancels = page.locator('[class*="st-key-billing-requests-cancel-"] button')
    others = cancels.count() - 1
    tab_to(page, inside(mine), limit=20)
    page.keyboard.press("Enter")
    wait_for_app(page)
    expect(page.locator(f".st-key-{mine}")).to_have_count(0)
    if others:
        page.wait_for_function("() => document.activeElement.closest("
                               "'[class*=\"st-key-billing-requests-cancel-\"]') !== null")
    else:
        expect(page.locator(".st-key-billing-requests-head h2")).to_be_focused()

    # Approvals, from the sidebar by keyboard.
    tab_to(page, "el.tagName === 'A' && el.getAttribute('href').endsWith('/approvals')", limit=60,
           back=True)
    # The focused link shows it with an outline, not only a faint tint.
    assert focused(page, "getComputedStyle(el).outlineStyle") == "solid"
    page.keyboard.press("Enter")
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Approvals", exact=True)).to_be_visible()
    expect(page).to_have_title("Approvals · en-credits")
    cards = page.locator('[class*="st-key-billing-approvals-card-"]')
    order = [re.search(r"card-(\d+)", c).group(1) for c in
             cards.evaluate_all("cs => cs.map(c => c.className)")]
    globex = re.search(r"card-(\d+)", cards.filter(has_text="Globex Marketing")
                       .evaluate("c => c.className")).group(1)
    after = order[order.index(globex) + 1] if order[-1] != globex else order[-2]
    # Reject without a reason first: refused, and the card's note field says so.
    tab_to(page, inside(f"billing-approvals-reject-{globex}"), limit=80)
    page.keyboard.press("Enter")
    wait_for_app(page)
    note = page.locator(f".st-key-billing-approvals-note-{globex} input")
    expect(note).to_have_attribute("aria-invalid", "true")
    expect(page.locator(f"#{note.get_attribute('aria-describedby')}")).to_contain_text(
        f"Could not reject request #{globex}")
    expect(note).to_be_focused()  # where the reason is to be typed
    tab_to(page, inside(f"billing-approvals-approve-{globex}"), limit=2)
    page.keyboard.press("Enter")
    wait_for_app(page)
    expect(page.locator(f".st-key-billing-approvals-card-{globex}")).to_have_count(0)
    # Focus is on the card that came next, not lost with the one that went.
    expect(page.locator(f".st-key-billing-approvals-card-{after}")).to_be_focused()
    expect(page.get_by_role("status").filter(has_text=f"Approved #{globex}")).to_be_visible()
    expect(page.locator(TOAST).filter(has_text=f"Approved #{globex}")).to_be_visible()
    assert presses <= 12
