"""Billing's grants: what expires soon (in the wallet card), the forecast of credits that
will expire unused, the wallet's grants in draw-down order, and which grants paid for a
transaction.

Not a page (the underscore keeps it out of navigation). billing_core decides everything
(the order, the forecast); this draws it. User text goes through `plain`/`visible_text`.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pandas as pd
import streamlit as st

from billing_core import EntryKind, ExpiryForecast, Grant, GrantKind, Transaction, User, Workspace
from pages._shared import attempt, credits, get_ledger, local_time
from pages._text import plain, visible_text

KEY = "billing.grants"
SOON_DAYS = 30
KIND_LABELS = {GrantKind.PURCHASED: "Purchased", GrantKind.PROMOTIONAL: "Promotional"}
TYPE_LABELS = {EntryKind.DEBIT: "Debit", EntryKind.CREDIT: "Credit", EntryKind.EXPIRY: "Expiry"}


def expiring_soon(grants: list[Grant], days: int = SOON_DAYS) -> tuple[Decimal, Grant | None]:
    """(credits in grants that expire within `days` of now, the grant that expires first)."""
    now = get_ledger().now()
    ending = sorted((g for g in grants if g.expires_at is not None), key=lambda g: (g.expires_at, g.id))
    soon = sum((g.remaining for g in ending if g.expires_at and g.expires_at <= now + timedelta(days=days)),
               Decimal(0))
    return soon, (ending[0] if ending else None)


def wallet_expiry(user: User, workspace_id: int) -> None:
    """The wallet card's line on expiries: what expires within 30 days, and when the first does."""
    grants = attempt(lambda: get_ledger().grants(user, workspace_id))
    if grants is None:
        return
    soon, first = expiring_soon(grants)
    left, right = st.columns(2)
    left.metric(f"Expiring in the next {SOON_DAYS} days", credits(soon),
                help="Credits of grants that expire within 30 days, unless spent first.")
    right.metric("Soonest expiry", local_time(first.expires_at) if first else "None",
                 help=None if first is None else f"{credits(first.remaining)} of grant #{first.id} "
                 f"({KIND_LABELS[first.kind].lower()})")


def approx(amount: Decimal) -> str:
    """A forecast's amount: to the cent (it is an estimate)."""
    return credits(amount.quantize(Decimal("0.01")))


def forecast_message(forecast: ExpiryForecast) -> str | None:
    """What the forecast warns of, as markdown-safe text; None when nothing will be lost."""
    if forecast.unused <= 0 or forecast.first_on is None:
        return None
    parts = [f"{approx(g.unused)} of grant #{g.grant_id} ({KIND_LABELS[g.kind].lower()}) on "
             f"{local_time(g.expires_at)}" for g in forecast.grants[:3]]
    more = f", and {len(forecast.grants) - 3} more" if len(forecast.grants) > 3 else ""
    rate = ("nothing spent lately" if forecast.per_day <= 0
            else f"the last 30 days' rate of {approx(forecast.per_day)} a day")
    return (f"**About {approx(forecast.unused)} will expire unused** at {rate}: "
            f"{'; '.join(parts)}{more}. Spend them first or ask an administrator to move the expiry.")


def source_label(source: str) -> str:
    """Where a grant came from, in words: `request:12` -> `Request #12`, `correction:40` ->
    `Correction #40` (the credits of an expired grant a correction gave back)."""
    if source.startswith("request:"):
        return f"Request #{source.removeprefix('request:')}"
    if source.startswith("correction:"):
        return f"Correction #{source.removeprefix('correction:')}"
    return {"grant": "Added by an administrator", "opening": "Balance before grants"}.get(
        source, visible_text(source))


def grants_table(grants: list[Grant]) -> pd.DataFrame:
    """The grants as shown: draw-down order, remaining of amount, expiry in the viewer's zone."""
    return pd.DataFrame(
        {
            "Grant": [f"#{g.id}" for g in grants],
            "Kind": [KIND_LABELS[g.kind] for g in grants],
            "Priority": [g.priority for g in grants],
            "Remaining": [float(g.remaining) for g in grants],
            "Of": [float(g.amount) for g in grants],
            "Expires": [("expired " if g.expired else "") + local_time(g.expires_at) if g.expires_at
                        else "never" for g in grants],
            "Source": [source_label(g.source) for g in grants],
            "Granted": [local_time(g.created_at) for g in grants],
        },
        columns=["Grant", "Kind", "Priority", "Remaining", "Of", "Expires", "Source", "Granted"],
    )


def grants_section(user: User, workspace: Workspace) -> None:
    st.header("Grants", anchor=False)
    ledger = get_ledger()
    forecast = attempt(lambda: ledger.expiry_forecast(user, workspace.id))
    if forecast is not None:
        warning = forecast_message(forecast)
        if warning:
            st.warning(warning, icon=":material/hourglass_bottom:")
    every = st.toggle("Show used-up and expired grants", key=f"{KEY}.all")
    grants = attempt(lambda: ledger.grants(user, workspace.id, include_spent=every))
    if grants is None:
        return
    st.caption("Debits draw from the first grant listed: lowest priority number first "
               "(promotional before purchased), then the soonest expiry, then the oldest.")
    if not grants:
        st.info("No grants hold credits in this wallet yet: approved requests and credits "
                "added by an administrator appear here.", icon=":material/redeem:")
    else:
        table = grants_table(grants)
        st.dataframe(table.style.format({"Remaining": "{:,.2f}", "Of": "{:,.2f}"}), hide_index=True,
                     key=f"{KEY}.table")
    trace_section(user, workspace)


def transaction_label(tx: Transaction) -> str:
    sign = "+" if tx.kind is EntryKind.CREDIT else "−"
    what = visible_text(tx.feature or tx.description)
    return f"#{tx.id} · {TYPE_LABELS[tx.kind]} {sign}{credits(tx.amount)} · {what}"


def trace_section(user: User, workspace: Workspace) -> None:
    """Which grants paid for a transaction (of the latest 100): its draws, in draw-down order."""
    with st.expander("Which grants paid for a transaction?", icon=":material/account_tree:"):
        ledger = get_ledger()
        page = attempt(lambda: ledger.history(user, workspace.id, limit=100))
        if page is None or not page.items:
            st.caption("No transactions yet.")
            return
        picked = st.selectbox("Transaction (the latest 100)", page.items, format_func=transaction_label,
                              key=f"{KEY}.trace")
        if picked is None:
            return
        draws = attempt(lambda: ledger.draws(user, picked.id))
        if draws is None:
            return
        if not draws:
            st.caption("This transaction is from before grants were kept: it names no grant.")
            return
        verb = {EntryKind.DEBIT: "drew", EntryKind.CREDIT: "made", EntryKind.EXPIRY: "expired"}[picked.kind]
        if picked.corrects is not None and picked.kind is EntryKind.CREDIT:
            verb = "gave back to"  # a correction of a debit: its draws, or a new grant for an expired one
        st.caption(plain(f"Transaction #{picked.id} {verb}:"))
        st.dataframe(
            pd.DataFrame({
                "Grant": [f"#{d.grant_id}" for d in draws],
                "Kind": [KIND_LABELS[d.grant_kind] for d in draws],
                "Amount": [float(d.amount) for d in draws],
                "Grant expires": [local_time(d.grant_expires_at) if d.grant_expires_at else "never"
                                  for d in draws],
                "Source": [source_label(d.grant_source) for d in draws],
            }).style.format({"Amount": "{:,.2f}"}),
            hide_index=True, key=f"{KEY}.draws",
        )
