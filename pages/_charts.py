"""Altair chart specifications, fed by the tidy DataFrames billing_core returns.

Amounts arrive as exact Decimals; they are cast to float here only to be drawn.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

CREDITS_FORMAT = ",.2f"


def _drawable(frame: pd.DataFrame, *money: str) -> pd.DataFrame:
    out = frame.copy()
    for column in money:
        out[column] = out[column].astype(float)
    for column in ("period", "day"):
        if column in out:
            out[column] = pd.to_datetime(out[column])
    return out


TIME_UNITS = {"day": "yearmonthdate", "week": "yearweek", "month": "yearmonth"}


def _spend_bars(
    frame: pd.DataFrame, granularity: str, field: str, title: str, *extra: alt.Tooltip
) -> alt.Chart:
    """Spend per period as bars stacked by `field` (feature or workspace)."""
    data = _drawable(frame, "spent")
    unit = TIME_UNITS[granularity]
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X(f"{unit}(period):T", title=None),
            y=alt.Y("sum(spent):Q", title="en-credits spent", stack="zero"),
            color=alt.Color(f"{field}:N", title=title),
            tooltip=[
                alt.Tooltip(f"{unit}(period):T", title="Period"),
                alt.Tooltip(f"{field}:N", title=title),
                alt.Tooltip("sum(spent):Q", title="Spent", format=CREDITS_FORMAT),
                *extra,
            ],
        )
        .properties(height=280)
    )


def spend_by_feature(frame: pd.DataFrame, granularity: str = "day") -> alt.Chart:
    return _spend_bars(
        frame, granularity, "feature", "Feature", alt.Tooltip("sum(uses):Q", title="Uses")
    )


def spend_by_workspace(frame: pd.DataFrame, granularity: str = "day") -> alt.Chart:
    return _spend_bars(frame, granularity, "workspace", "Workspace")


def workspace_totals(frame: pd.DataFrame) -> alt.Chart:
    """Horizontal bars: total spend per workspace over the range."""
    data = _drawable(frame, "spent")
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=alt.Y("workspace:N", sort="-x", title=None),
            x=alt.X("sum(spent):Q", title="en-credits spent"),
            tooltip=[
                alt.Tooltip("workspace:N", title="Workspace"),
                alt.Tooltip("sum(spent):Q", title="Spent", format=CREDITS_FORMAT),
            ],
        )
        .properties(height=alt.Step(24))
    )


def credits_vs_debits(frame: pd.DataFrame, granularity: str = "day") -> alt.Chart:
    data = _drawable(frame, "amount")
    unit = TIME_UNITS[granularity]
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X(f"{unit}(period):T", title=None),
            xOffset="kind:N",
            y=alt.Y("amount:Q", title="en-credits"),
            color=alt.Color(
                "kind:N",
                title="Type",
                scale=alt.Scale(domain=["credit", "debit"], range=["#2e7d32", "#c62828"]),
            ),
            tooltip=[
                alt.Tooltip(f"{unit}(period):T", title="Period"),
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
            tooltip=[
                alt.Tooltip("user:N", title="Person"),
                alt.Tooltip("email:N", title="Email"),
                alt.Tooltip("spent:Q", title="Spent", format=CREDITS_FORMAT),
                alt.Tooltip("uses:Q", title="Uses"),
            ],
        )
        .properties(height=alt.Step(24))
    )


def burn_rate(frame: pd.DataFrame) -> alt.Chart:
    """Horizontal bars: average daily spend per workspace, with balance and run-out date
    in the tooltip. Expects wallet_overview's columns (workspace, balance, per_day,
    runs_out_on) plus `health` (a label such as "Zero balance", "Low balance", "OK")."""
    data = _drawable(frame, "balance", "per_day")
    data["runs_out_on"] = data["runs_out_on"].map(lambda d: "never" if d is None else str(d))
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=alt.Y("workspace:N", sort="-x", title=None),
            x=alt.X("per_day:Q", title="en-credits per day"),
            color=alt.Color(
                "health:N",
                title="Health",
                scale=alt.Scale(
                    domain=["Zero balance", "Low balance", "Inactive", "OK"],
                    range=["#c62828", "#ef6c00", "#9e9e9e", "#2e7d32"],
                ),
            ),
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
