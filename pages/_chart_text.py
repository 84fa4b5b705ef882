"""Each chart in words: a one-sentence summary of what it shows, for the page (under the
chart's heading) and for screen readers (the chart's accessible name). The numbers come
from the same frames billing_core returned for the chart.

Not a page (the underscore keeps it out of navigation). The sentences hold user text
(feature, workspace and people's names) as stored: draw them with `plain()` as markdown,
or with `visible_text()` as text.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from billing_core import EntryKind, WalletHealth, format_credits


def _sum(values: pd.Series) -> Decimal:
    return sum((Decimal(str(v)) for v in values), Decimal(0))


def _cents(value: object) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def spend(frame: pd.DataFrame, by: str, what: str) -> str:
    """`frame` has `spent` per period and `by` (feature or workspace)."""
    if frame.empty:
        return "Nothing was spent in this period."
    totals = frame.groupby(by)["spent"].apply(_sum).sort_values(ascending=False)
    top, top_amount = totals.index[0], totals.iloc[0]
    periods = frame["period"].nunique()
    return (
        f"{format_credits(_sum(frame['spent']))} spent over {periods} "
        f"period{'s' if periods != 1 else ''} across {len(totals)} {what}; the most by "
        f"{top} ({format_credits(top_amount)})."
    )


def totals(frame: pd.DataFrame, by: str, what: str) -> str:
    """Totals per `by` over the whole range, largest first."""
    if frame.empty:
        return "Nothing was spent in this period."
    ranked = frame.groupby(by)["spent"].apply(_sum).sort_values(ascending=False)
    shown = "; ".join(f"{name} {format_credits(amount)}" for name, amount in
                      ranked.head(3).items())
    more = f", and {len(ranked) - 3} more" if len(ranked) > 3 else ""
    return f"Total spend by {what}, largest first: {shown}{more}."


def balance(frame: pd.DataFrame) -> str:
    """`frame` has one end-of-day `balance` per `day`."""
    if frame.empty:
        return "No balance to show for this period."
    first, last = frame.iloc[0], frame.iloc[-1]
    low = frame.loc[frame["balance"].astype(float).idxmin()]
    return (
        f"The balance went from {format_credits(Decimal(str(first['balance'])))} on "
        f"{pd.Timestamp(first['day']).date()} to "
        f"{format_credits(Decimal(str(last['balance'])))} on "
        f"{pd.Timestamp(last['day']).date()}; its lowest was "
        f"{format_credits(Decimal(str(low['balance'])))} on {pd.Timestamp(low['day']).date()}."
    )


def flows(frame: pd.DataFrame) -> str:
    """`frame` has `kind` (credit, debit or expiry) and `amount` per period."""
    credited = _sum(frame.loc[frame["kind"] == EntryKind.CREDIT, "amount"])
    debited = _sum(frame.loc[frame["kind"] == EntryKind.DEBIT, "amount"])
    expired = _sum(frame.loc[frame["kind"] == EntryKind.EXPIRY, "amount"])
    net = credited - debited - expired
    lapsed = f"; expired unused (drawn down) {format_credits(expired)}" if expired else ""
    return (
        f"Credits (top-ups, drawn up) {format_credits(credited)}; debits (spend, drawn "
        f"down) {format_credits(debited)}{lapsed}; net {'−' if net < 0 else ''}{format_credits(abs(net))}."
    )


def consumers(frame: pd.DataFrame) -> str:
    """`frame` has `user`, `spent` and `uses`, largest spend first."""
    if frame.empty:
        return "Nobody used features that spend en-credits in this period."
    top = frame.iloc[0]
    return (
        f"{len(frame)} people shown; {top['user']} spent the most: "
        f"{format_credits(Decimal(str(top['spent'])))} over {int(top['uses']):,} uses."
    )


def burn(frame: pd.DataFrame) -> str:
    """wallet_overview's frame: billing_core's `health` and `per_day` per wallet."""
    if frame.empty:
        return "No wallets to show."
    counts = frame["health"].value_counts()
    parts = [f"{counts.get(h, 0)} {h.value.lower()}" for h in WalletHealth if counts.get(h, 0)]
    fastest = frame.loc[frame["per_day"].astype(float).idxmax()]
    return (
        f"{len(frame)} wallet{'s' if len(frame) != 1 else ''}: {', '.join(parts)}; the "
        f"fastest spends {format_credits(_cents(fastest['per_day']))} a day "
        f"({fastest['workspace']})."
    )
