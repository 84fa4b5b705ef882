"""Altair chart specifications, fed by the tidy DataFrames billing_core returns.

Amounts arrive as exact Decimals; they are cast to float here only to be drawn.
"""

from __future__ import annotations

from datetime import date, timedelta

import altair as alt
import pandas as pd

from billing_core import EntryKind, WalletHealth

CREDITS_FORMAT = ",.2f"
# Okabe and Ito's palette: told apart with every common colour-vision deficiency. Colour is
# never alone: legends and tooltips name each series, credits are drawn up and debits (and
# expiries) down, and each burn-rate bar carries its health in words.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
           "#000000"]
CREDIT_COLOUR, DEBIT_COLOUR, EXPIRY_COLOUR = "#0072B2", "#D55E00", "#CC79A7"
HEALTH_COLOURS = {  # vermillion, orange, grey, blue
    WalletHealth.ZERO_BALANCE: "#D55E00",
    WalletHealth.LOW_BALANCE: "#E69F00",
    WalletHealth.INACTIVE: "#8c8c8c",
    WalletHealth.OK: "#0072B2",
}


def _drawable(frame: pd.DataFrame, *money: str) -> pd.DataFrame:
    out = frame.copy()
    for column in money:
        out[column] = out[column].astype(float)
    for column in ("period", "day"):
        if column in out:
            out[column] = pd.to_datetime(out[column])
    return out


# Bars over time sit in one slot per period (a band scale), so a day with no spend keeps
# its place and a bar's width follows the number of periods, never the range's length:
# up to FEW_PERIODS they keep a fixed width (one month by month is one bar, not a bar
# across the axis); beyond MANY_PERIODS they fill their slot and read as a stepped area
# (90 days by day on a phone), each still hoverable; in between, slots with a gap.
FEW_PERIODS, MANY_PERIODS = 6, 45
FEW_BAR_WIDTH = 36  # pixels
AXIS_LABELS = 8  # at most, so they fit a phone
LABEL_FORMATS = {"day": "%b %d", "week": "%b %d", "month": "%b %Y"}
PERIOD_NAMES = {"day": "%a %Y-%m-%d", "week": "week of %Y-%m-%d", "month": "%B %Y"}
SPEND_LEGEND = alt.Legend(orient="bottom", columns=2, labelLimit=160)
FLOW_LABELS = (
    f"datum.label == '{EntryKind.CREDIT}' ? 'Credits (drawn up)' : "
    f"datum.label == '{EntryKind.DEBIT}' ? 'Debits (drawn down)' : 'Expired unused (drawn down)'"
)


def period_start(day: date, granularity: str) -> date:
    """The first day of the period holding `day` (weeks start on Monday, as in billing_core)."""
    if granularity == "week":
        return day - timedelta(days=day.weekday())
    if granularity == "month":
        return day.replace(day=1)
    return day


def periods(granularity: str, first: date, last: date) -> list[date]:
    """Every period from the one holding `first` to the one holding `last`."""
    out, day = [], period_start(first, granularity)
    while day <= last:
        out.append(day)
        if granularity == "month":
            day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
        else:
            day += timedelta(days=7 if granularity == "week" else 1)
    return out


def _with_slots(data: pd.DataFrame, granularity: str) -> pd.DataFrame:
    """`slot` (the period's first day, ISO: the band's value) and `when` (its name for
    a tooltip) from the `period` column."""
    days = pd.to_datetime(data["period"])
    return data.assign(slot=days.dt.strftime("%Y-%m-%d"),
                       when=days.dt.strftime(PERIOD_NAMES[granularity]))


def time_slots(
    data: pd.DataFrame, granularity: str, start: date | None = None, end: date | None = None
) -> tuple[alt.X, dict[str, object]]:
    """The x encoding (one band per period from `start` to `end`, or over the data's own
    periods) and the bar mark's settings for that many periods."""
    days = pd.to_datetime(data["period"]).dt.date
    first, last = start or days.min(), end or days.max()
    known = isinstance(first, date) and isinstance(last, date)  # NaT for an empty frame
    slots = [d.isoformat() for d in periods(granularity, first, last)] if known else []
    step = max(1, -(-len(slots) // AXIS_LABELS))
    fmt = LABEL_FORMATS[granularity]
    dense = len(slots) > MANY_PERIODS
    x = alt.X(
        "slot:O",
        title=None,
        scale=alt.Scale(domain=slots, paddingInner=0 if dense else 0.2, paddingOuter=0.1),
        axis=alt.Axis(values=slots[::step], labelExpr=f"utcFormat(toDate(datum.value), '{fmt}')",
                      labelAngle=0, labelOverlap=True, ticks=not dense),
    )
    mark: dict[str, object] = {"width": FEW_BAR_WIDTH} if len(slots) <= FEW_PERIODS else {}
    return x, mark


def _spend_bars(
    frame: pd.DataFrame, granularity: str, field: str, title: str, *extra: alt.Tooltip,
    start: date | None = None, end: date | None = None,
) -> alt.Chart:
    """Spend per period as bars stacked by `field` (feature or workspace)."""
    data = _with_slots(_drawable(frame, "spent"), granularity)
    x, mark = time_slots(data, granularity, start, end)
    return (
        alt.Chart(data)
        .mark_bar(**mark)
        .encode(
            x=x,
            y=alt.Y("sum(spent):Q", title="en-credits spent", stack="zero"),
            color=alt.Color(f"{field}:N", title=title, legend=SPEND_LEGEND,
                            scale=alt.Scale(range=PALETTE)),
            tooltip=[
                alt.Tooltip("when:N", title="Period"),
                alt.Tooltip(f"{field}:N", title=title),
                alt.Tooltip("sum(spent):Q", title="Spent", format=CREDITS_FORMAT),
                *extra,
            ],
        )
        .properties(height=280)
    )


def spend_by_feature(
    frame: pd.DataFrame, granularity: str = "day", *, start: date | None = None,
    end: date | None = None,
) -> alt.Chart:
    return _spend_bars(
        frame, granularity, "feature", "Feature", alt.Tooltip("sum(uses):Q", title="Uses"),
        start=start, end=end,
    )


def spend_by_workspace(
    frame: pd.DataFrame, granularity: str = "day", *, start: date | None = None,
    end: date | None = None,
) -> alt.Chart:
    return _spend_bars(frame, granularity, "workspace", "Workspace", start=start, end=end)


def workspace_totals(frame: pd.DataFrame) -> alt.Chart:
    """Horizontal bars: total spend per workspace over the range."""
    data = _drawable(frame, "spent")
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=alt.Y("workspace:N", sort="-x", title=None),
            x=alt.X("sum(spent):Q", title="en-credits spent"),
            color=alt.value(PALETTE[0]),
            tooltip=[
                alt.Tooltip("workspace:N", title="Workspace"),
                alt.Tooltip("sum(spent):Q", title="Spent", format=CREDITS_FORMAT),
            ],
        )
        .properties(height=alt.Step(24))
    )


def credits_vs_debits(
    frame: pd.DataFrame, granularity: str = "day", *, start: date | None = None,
    end: date | None = None,
) -> alt.Chart:
    """Credits up, debits and expiries down, one slot per period (readable at any number of
    periods)."""
    data = _with_slots(_drawable(frame, "amount"), granularity)
    data["drawn"] = data["amount"].where(data["kind"] == EntryKind.CREDIT, -data["amount"])
    x, mark = time_slots(data, granularity, start, end)
    return (
        alt.Chart(data)
        .mark_bar(**mark)
        .encode(
            x=x,
            y=alt.Y("drawn:Q", title="en-credits"),
            color=alt.Color(
                "kind:N",
                title="Type",
                scale=alt.Scale(domain=[EntryKind.CREDIT, EntryKind.DEBIT, EntryKind.EXPIRY],
                                range=[CREDIT_COLOUR, DEBIT_COLOUR, EXPIRY_COLOUR]),
                legend=alt.Legend(orient="bottom", labelExpr=FLOW_LABELS),
            ),
            tooltip=[
                alt.Tooltip("when:N", title="Period"),
                alt.Tooltip("kind:N", title="Type"),
                alt.Tooltip("amount:Q", title="Amount", format=CREDITS_FORMAT),
            ],
        )
        .properties(height=280)
    )


def balance_over_time(frame: pd.DataFrame) -> alt.Chart:
    data = _drawable(frame, "balance")
    return (
        alt.Chart(data)
        .mark_area(line=True, opacity=0.25, interpolate="step-after")
        .encode(
            x=alt.X("day:T", title=None),
            y=alt.Y("balance:Q", title="Balance (en-credits)"),
            tooltip=[
                alt.Tooltip("day:T", title="Day"),
                alt.Tooltip("balance:Q", title="End-of-day balance", format=CREDITS_FORMAT),
            ],
        )
        .properties(height=240)
    )


def top_consumers(frame: pd.DataFrame) -> alt.Chart:
    data = _drawable(frame, "spent")
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=alt.Y("user:N", sort="-x", title=None),
            x=alt.X("spent:Q", title="en-credits spent"),
            color=alt.value(PALETTE[0]),
            tooltip=[
                alt.Tooltip("user:N", title="Person"),
                alt.Tooltip("email:N", title="Email"),
                alt.Tooltip("spent:Q", title="Spent", format=CREDITS_FORMAT),
                alt.Tooltip("uses:Q", title="Uses"),
            ],
        )
        .properties(height=alt.Step(24))
    )


def burn_rate(frame: pd.DataFrame) -> alt.LayerChart:
    """Horizontal bars: average daily spend per workspace, coloured by billing_core's
    health and labelled with it in words beside each bar (colour is never alone); balance
    and run-out date in the tooltip. Expects wallet_overview's columns (workspace, balance,
    per_day, runs_out_on, health)."""
    data = _drawable(frame, "balance", "per_day")
    data["runs_out_on"] = data["runs_out_on"].map(lambda d: "never" if d is None else str(d))
    bars = alt.Chart().mark_bar().encode(
        color=alt.Color(
            "health:N",
            title="Health",
            scale=alt.Scale(domain=[h.value for h in HEALTH_COLOURS],
                            range=list(HEALTH_COLOURS.values())),
            legend=alt.Legend(orient="bottom", columns=2),
        ),
    )
    words = alt.Chart().mark_text(align="left", dx=4, fontSize=11).encode(text="health:N")
    return (
        alt.layer(bars, words, data=data)
        .encode(
            y=alt.Y("workspace:N", sort="-x", title=None),
            x=alt.X("per_day:Q", title="en-credits per day"),
            tooltip=[
                alt.Tooltip("workspace:N", title="Workspace"),
                alt.Tooltip("per_day:Q", title="Per day", format=CREDITS_FORMAT),
                alt.Tooltip("balance:Q", title="Balance", format=CREDITS_FORMAT),
                alt.Tooltip("runs_out_on:N", title="Runs out on"),
                alt.Tooltip("health:N", title="Health"),
            ],
        )
        .properties(height=alt.Step(28))
    )
