"""Approvals' Prices section (administrators): the rate card with its history, a form to
add a price effective from a date, and a live preview ("1,000 tokens of AI chat cost 2.00
credits"). billing_core keeps every rule (administrators only, exact rates, rows never
edited); this draws, asks and reports.

Not a page (the underscore keeps it out of navigation).
"""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal

import pandas as pd
import streamlit as st

from billing_core import BillingError, Ledger, Price, Unit, User
from billing_core.pricing import ANY_FEATURE, parse_rate, preview
from pages import _notice
from pages._notice import Notice, Tone
from pages._shared import attempt, csv_download, flash, get_ledger, local_time, plain
from pages._text import visible_text

KEY = "billing.prices"
NOTICES = "billing.prices.form"
SAMPLE = {  # the quantity a preview prices, per unit
    Unit.REQUEST: Decimal(1), Unit.TOKEN: Decimal(1000), Unit.THOUSAND_TOKENS: Decimal(1),
    Unit.IMAGE: Decimal(1), Unit.SECOND: Decimal(60), Unit.USD: Decimal(1),
}


def prices_section(ledger: Ledger, admin: User) -> None:
    st.header("Prices", anchor=False)
    st.caption(f"Credits per unit of usage, by feature; {ANY_FEATURE} prices every feature without its "
               "own price. A new price applies from its date on; earlier prices are kept and still "
               "price the usage of their time.")
    card = attempt(lambda: ledger.prices(admin))
    if card is None:
        return
    if card:
        table = rate_card(card, ledger.now())
        st.dataframe(table.assign(**{"Feature": table["Feature"].map(visible_text)}),
                     hide_index=True, key=f"{KEY}.card")
        csv_download(table, name="rate-card", key=f"{KEY}.card_csv")
    else:
        st.info("The rate card is empty: add the first price below.")
    add_price_form(admin)


def rate_card(card: list[Price], now: datetime) -> pd.DataFrame:
    """Every price, newest first per feature and unit, with what it is now."""
    current: dict[tuple[str, Unit], int] = {}
    for p in card:  # ascending by effective_from: the last one started is in effect
        if p.effective_from <= now:
            current[(p.feature, p.unit)] = p.id
    rows = sorted(card, key=lambda p: (p.feature, p.unit.value, p.effective_from), reverse=True)
    return pd.DataFrame({
        "Feature": [p.feature for p in rows],
        "Unit": [p.unit.value for p in rows],
        "Credits per unit": [f"{p.credits_per_unit.normalize():f}" for p in rows],
        "From": [local_time(p.effective_from) for p in rows],
        "Status": [state(p, current, now) for p in rows],
        "Example": [preview(SAMPLE[p.unit], p.unit, p.feature, p.credits_per_unit) for p in rows],
    })


def state(price: Price, current: dict[tuple[str, Unit], int], now: datetime) -> str:
    if price.effective_from > now:
        return "scheduled"
    return "in effect" if current.get((price.feature, price.unit)) == price.id else "superseded"


def add(admin: User) -> None:
    """The Add button's callback: one new row on the rate card."""
    s = st.session_state
    start = s.get(f"{KEY}.from")
    try:
        price = get_ledger().set_price(
            admin, str(s.get(f"{KEY}.feature") or ""), s.get(f"{KEY}.unit") or Unit.TOKEN,
            str(s.get(f"{KEY}.rate") or ""),
            effective_from=None if start is None else datetime.combine(start, time()),
        )
    except BillingError as error:
        _notice.notify(NOTICES, Notice(plain(str(error)), Tone.ERROR))
        return
    flash(f"Price added: {plain(price.feature)} costs {price.credits_per_unit.normalize():f} credits "
          f"per {price.unit.value} from {local_time(price.effective_from)}.")


def add_price_form(admin: User) -> None:
    with st.container(border=True):
        st.subheader("Add a price", anchor=False)
        left, middle, right, last = st.columns([3, 2, 2, 2])
        feature = left.text_input("Feature", key=f"{KEY}.feature", placeholder="AI chat, or * for the rest")
        unit = middle.selectbox("Unit", list(Unit), key=f"{KEY}.unit", format_func=lambda u: u.value)
        rate = right.text_input("Credits per unit", key=f"{KEY}.rate", placeholder="0.002")
        last.date_input("Effective from", key=f"{KEY}.from", value=get_ledger().today())
        shown = sample(feature, unit, rate)
        if shown:
            st.caption(f"Preview: {plain(shown)}.")
        st.button("Add price", key=f"{KEY}.add", icon=":material/sell:", on_click=add, args=(admin,))
        _notice.show(NOTICES)


def sample(feature: str, unit: Unit | None, rate: str) -> str | None:
    """The preview sentence for what is typed, or None until it makes a price."""
    if not feature.strip() or unit is None:
        return None
    try:
        return preview(SAMPLE[unit], unit, feature.strip(), parse_rate(rate))
    except BillingError:
        return None
