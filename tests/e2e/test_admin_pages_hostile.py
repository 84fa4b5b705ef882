"""Hostile text on the administrators' pages, in Chromium (issue 11): a workspace named with
markdown, HTML, a URL and directives, and a grant reason with a formula and a right-to-left
override, read as typed; no link, image, script or colour is made of them.

Screenshot: tests/e2e/artifacts/admin-hostile-people.png.
"""

from __future__ import annotations

from playwright.sync_api import Page, expect

from .conftest import ADMIN_EMAIL, SEL_EXCEPTION, open_page, sign_in, wait_for_app
from .test_invite_in_browser import choose

HOSTILE = "**Evil** [x](https://evil.example) <img src=x onerror=alert(1)> :red[big] $x^2$ ~~gone~~"
REASON = "=SUM(A1) \u202eexe.live"
TOAST = '[data-testid="stToast"]'


def read(locator) -> str:
    """What a reader sees: the text without plain()'s invisible word joiners."""
    return locator.inner_text().replace("\u2060", "")


def no_markup_made(page: Page) -> None:
    main = page.get_by_test_id("stMain")
    expect(main.locator("a[href*='evil.example']")).to_have_count(0)
    expect(page.locator("img[src='x']")).to_have_count(0)
    expect(main.locator("del, strong:text-is('Evil'), em:text-is('Evil'), .katex")).to_have_count(0)
    expect(page.locator(SEL_EXCEPTION)).to_have_count(0)


def test_hostile_names_and_reasons_read_as_typed_on_people_and_workspaces(app_url, page, screenshot):
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(page, app_url, ADMIN_EMAIL)
    open_page(page, "People & workspaces")

    page.get_by_role("textbox", name="New workspace").fill(HOSTILE)
    page.get_by_role("button", name="Add workspace").click()
    wait_for_app(page)
    toast = page.locator(TOAST).filter(has_text="added, with an empty wallet")
    expect(toast).to_be_visible()
    assert f"Workspace {HOSTILE} added" in read(toast)
    no_markup_made(page)

    choose(page, "Workspace", "Evil")
    heading = page.get_by_test_id("stMarkdown").filter(has_text="Members of")
    expect(heading).to_be_visible()
    assert read(heading) == f"Members of {HOSTILE}"
    no_markup_made(page)

    page.get_by_role("textbox", name="New workspace").fill("Evil\u202eexe.live")
    page.get_by_role("button", name="Add workspace").click()
    wait_for_app(page)
    refusal = page.get_by_test_id("stAlert").filter(has_text="text-direction characters (U+202E)")
    expect(refusal).to_be_visible()

    page.get_by_role("tab", name="Credits").click()
    choose(page, "Workspace", "Evil")
    page.get_by_role("textbox", name="Amount (en-credits)").fill("5")
    page.get_by_role("textbox", name="Reason").fill(REASON)
    page.get_by_role("button", name="Grant", exact=True).click()
    wait_for_app(page)
    granted = page.locator(TOAST).filter(has_text="Granted 5.00 en-credits to")
    expect(granted).to_be_visible()
    assert HOSTILE in read(granted)
    no_markup_made(page)
    expect(page.get_by_role("tab", name="Credits")).to_have_attribute("aria-selected", "true")  # still open
    screenshot("admin-hostile-people")
    assert not dialogs
    assert "\u202e" not in page.get_by_test_id("stMain").inner_text()
