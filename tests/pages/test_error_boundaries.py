"""Every section of Approvals, Spend analytics, My wallets and Use credits sits behind an
error boundary (pages._shared.section): a bug in one shows one readable sentence, never a
traceback, and the rest of the page is still drawn.

The page tests set BILLING_PAGE_ERRORS=raise so that bugs fail them; these tests unset it
to see what a person would see.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from billing_core import ConsolidatedWallet, Ledger
from pages import _shared

SENTENCE = "could not be shown because of an error on our side. The rest of the page is fine."


def broken(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("a bug, with internals: SELECT * FROM wallets")


def still_drawn_after(at: Any, section: str) -> list[str]:
    """The error sentences shown, checked to be readable; the run itself raised nothing."""
    assert not at.exception, at.exception
    errors = [str(e.value) for e in at.error]
    assert any(f"({section})" in e and SENTENCE in e for e in errors), errors
    assert all("RuntimeError" not in e and "SELECT" not in e for e in errors), errors
    return errors


@pytest.fixture
def no_raise(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.delenv(_shared.PAGE_ERRORS_VARIABLE)
    return monkeypatch


def run(app_as: Callable[..., Any], email: str, page: str) -> Any:
    at = app_as(email).run()
    at.switch_page(page).run()
    return at


def test_analytics_a_broken_chart_leaves_the_burn_rates(app_as, app_ledger: Ledger, no_raise):
    no_raise.setattr(type(app_ledger), "top_consumers", broken)
    at = run(app_as, "ada@example.com", "pages/analytics.py")
    still_drawn_after(at, "Spend charts")
    assert [s.value for s in at.header] == ["Burn rate and projected run-out", "Usage in units"]
    assert any("Health" in f.value.columns for f in at.dataframe)


def test_my_wallets_broken_totals_leave_the_wallet_lines(app_as, app_ledger: Ledger, no_raise):
    no_raise.setattr(ConsolidatedWallet, "blocked_count", property(broken))
    at = run(app_as, "alan@example.com", "pages/my_wallets.py")
    still_drawn_after(at, "Totals")
    assert "**Acme Research**" in [m.value for m in at.markdown]


def test_use_credits_a_broken_wallet_read_leaves_the_picker(app_as, app_ledger: Ledger, no_raise):
    no_raise.setattr(type(app_ledger), "wallet", broken)
    at = run(app_as, "alan@example.com", "pages/use_credits.py")
    still_drawn_after(at, "Ask the AI assistant")
    assert [t.value for t in at.title] == ["Use credits"]
    assert at.selectbox(key="billing.workspace_pick").value is not None


def test_with_page_errors_raise_a_bug_still_fails_the_page_test(app_as, app_ledger: Ledger,
                                                                  monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(type(app_ledger), "top_consumers", broken)
    at = run(app_as, "ada@example.com", "pages/analytics.py")
    assert at.exception
