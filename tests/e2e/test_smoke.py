"""Smoke test: the app starts over a seeded ledger and renders without an exception."""

from __future__ import annotations

from playwright.sync_api import expect

from .conftest import SEL_APP, SEL_EXCEPTION, wait_for_app


def test_app_renders_without_exception(app_url, page, screenshot):
    page.goto(app_url)
    wait_for_app(page, initial_wait_ms=0)

    expect(page.locator(SEL_APP)).to_be_visible()
    expect(page.locator(SEL_EXCEPTION)).to_have_count(0)

    screenshot("smoke")
