"""The Prices section of the Approvals page, and the Use credits page priced by the rate
card, in AppTest over a fresh copy of the demo ledger (which seeds a rate card)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

from billing_core import Ledger, Unit

ROOT = Path(__file__).resolve().parents[2]
APPROVALS = str(ROOT / "pages" / "approvals.py")
USE = str(ROOT / "pages" / "use_credits.py")
ADMIN = "ada@example.com"
K = "billing.prices"


def _texts(at, kind: str) -> list[str]:
    return [re.sub(r"\\(.)", r"\1", str(e.value)) for e in getattr(at, kind)]


def _card(at):
    return next(f.value for f in at.dataframe if "Credits per unit" in f.value.columns)


def test_admins_see_the_rate_card_with_an_example_per_price(app_as) -> None:
    at = app_as(ADMIN, script=APPROVALS)
    at.run()
    assert not at.exception
    assert "Prices" in [h.value for h in at.header]
    card = _card(at)
    chat = card[card["Feature"] == "AI chat"].iloc[0]
    assert (chat["Unit"], chat["Credits per unit"], chat["Status"]) == ("token", "0.002", "in effect")
    assert chat["Example"] == "1,000 tokens of AI chat cost 2.00 credits"


def test_an_admin_adds_a_price_from_a_date_with_a_live_preview(app_as, app_ledger: Ledger) -> None:
    at = app_as(ADMIN, script=APPROVALS)
    at.run()
    at.text_input(key=f"{K}.feature").input("AI chat")
    at.selectbox(key=f"{K}.unit").select(Unit.TOKEN)
    at.text_input(key=f"{K}.rate").input("0.0025")
    at.date_input(key=f"{K}.from").set_value(date(2026, 12, 1))
    at.run()
    assert "Preview: 1,000 tokens of AI chat cost 2.50 credits." in _texts(at, "caption")
    at.button(key=f"{K}.add").click().run()
    assert not at.exception
    admin = app_ledger.user_by_email(ADMIN)
    history = [p for p in app_ledger.prices(admin) if p.feature == "AI chat"]
    assert [p.credits_per_unit for p in history] == [Decimal("0.002"), Decimal("0.0025")]
    card = _card(at)
    assert card[card["Feature"] == "AI chat"]["Status"].tolist() == ["scheduled", "in effect"]


def test_a_refused_price_says_why_and_adds_nothing(app_as, app_ledger: Ledger) -> None:
    at = app_as(ADMIN, script=APPROVALS)
    at.run()
    before = len(app_ledger.prices(app_ledger.user_by_email(ADMIN)))
    at.text_input(key=f"{K}.feature").input("AI chat")
    at.text_input(key=f"{K}.rate").input("-1")
    at.run()
    at.button(key=f"{K}.add").click().run()
    assert any("plain positive number" in e for e in _texts(at, "error"))
    assert len(app_ledger.prices(app_ledger.user_by_email(ADMIN))) == before


def test_use_credits_prices_a_question_by_the_rate_card(app_as, app_ledger: Ledger) -> None:
    at = app_as(ADMIN, script=USE)
    at.run()
    assert any("1,000 tokens of AI chat" in c for c in _texts(at, "caption"))
    at.text_area(key="billing.assistant.question").input("How much is left?")
    at.button(key="billing.assistant.ask").click().run()
    assert not at.exception
    admin = app_ledger.user_by_email(ADMIN)
    space = app_ledger.workspaces(admin)[0]
    latest = app_ledger.history(admin, space.id, limit=1).items[0]
    assert (latest.feature, latest.quantity, latest.unit, latest.amount) == ("AI chat", 1000, "token", 2)


def test_analytics_shows_usage_in_units_by_feature_and_member(app_as, app_ledger: Ledger) -> None:
    admin = app_ledger.user_by_email(ADMIN)
    space = app_ledger.workspaces(admin)[0]
    for _ in range(3):
        app_ledger.consume_usage(admin, space.id, "AI chat", 1000, unit="token", description="chat")
    at = app_as(ADMIN, script=str(ROOT / "pages" / "analytics.py"))
    at.run()
    assert not at.exception
    assert "Usage in units" in [h.value for h in at.header]
    features = next(f.value for f in at.dataframe if {"Feature", "Quantity"} <= set(f.value.columns))
    row = features[features["Feature"] == "AI chat"].iloc[0]
    assert (row["Unit"], row["Quantity"], row["Credits"], row["Uses"]) == ("token", 3000, 6, 3)
    members = next(f.value for f in at.dataframe if "Member" in f.value.columns)
    assert len(members) == 1 and members["Credits"].tolist() == [6]


def test_a_usage_debit_shows_its_quantity_beside_the_feature(app_ledger: Ledger) -> None:
    from pages._billing_history import shown_row

    admin = app_ledger.user_by_email(ADMIN)
    space = app_ledger.workspaces(admin)[0]
    used = app_ledger.consume_usage(admin, space.id, "AI chat", 1500, unit="token", description="chat")
    assert shown_row(used).feature == "AI chat · 1,500 tokens"
    latest = app_ledger.history(admin, space.id, limit=1).items[0]
    assert shown_row(latest).feature == "AI chat · 1,500 tokens"
