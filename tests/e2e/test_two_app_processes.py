"""A PostgreSQL deployment in a real browser: two app processes over one ledger server.

An admin approves a request in the second process; the first process, asked again,
shows the request gone from its queue and the wallets grown by exactly its amount.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

import billing_core
from tests.conftest import PostgresForTests

from .conftest import (
    ADMIN_EMAIL,
    APP_SCRIPT,
    REPO_ROOT,
    VIEWPORT,
    _stop_process_group,
    open_page,
    sign_in,
    start_streamlit,
)
from .test_admin_journey import CARD, total_balance

SECOND_ADMIN = "grace@example.com"


@pytest.fixture
def two_apps(postgres: PostgresForTests, tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    name, url = postgres.fresh(demo=True)
    procs = []
    try:
        bases = []
        for n in (1, 2):
            log_dir = tmp_path / f"app{n}"
            log_dir.mkdir()
            proc, base, _ = start_streamlit(
                APP_SCRIPT, cwd=REPO_ROOT, env_extra={"BILLING_DB": url}, log_dir=log_dir
            )
            procs.append(proc)
            bases.append(base)
        yield bases[0], bases[1], url
    finally:
        for proc in procs:
            _stop_process_group(proc)
        postgres.drop(name)


def test_an_approval_in_one_app_process_shows_in_the_other(two_apps, browser, page):
    first_url, second_url, ledger_url = two_apps
    sign_in(page, first_url, ADMIN_EMAIL)
    open_page(page, "Approvals")
    cards = page.locator(CARD)
    expect(cards.first).to_be_visible()
    count, before = cards.count(), total_balance(page)
    with billing_core.open_ledger(ledger_url) as ledger:
        admin = ledger.user_by_email(ADMIN_EMAIL)
        oldest = ledger.requests(admin, status="pending")[0] if admin else None
    assert oldest is not None

    other = browser.new_context(viewport=VIEWPORT)
    try:
        second = other.new_page()
        sign_in(second, second_url, SECOND_ADMIN)
        open_page(second, "Approvals")
        second.locator(f".st-key-billing-approvals-approve-{oldest.id} button").click()
        expect(second.get_by_test_id("stToast").filter(has_text=f"Approved #{oldest.id}")).to_be_visible()
    finally:
        other.close()

    open_page(page, "Approvals")  # the first process runs the page again
    expect(page.locator(f".st-key-billing-approvals-card-{oldest.id}")).to_have_count(0)
    expect(cards).to_have_count(count - 1)
    assert abs(total_balance(page) - (before + float(oldest.amount))) < 0.005
    with billing_core.open_ledger(ledger_url) as ledger:
        ledger.verify()
