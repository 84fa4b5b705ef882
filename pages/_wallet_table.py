"""The wallet tables of Approvals and Spend analytics: wallet_overview's frame (billing_core
decides health, run-out dates and days left) drawn with readable headers and tints.

Not a page (the underscore keeps it out of navigation).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from billing_core import WalletHealth, WalletStatus
from pages._shared import local_time
from pages._text import visible_text

HEALTH_COLOURS = {  # row backgrounds for the wallet tables; "OK" stays plain
    WalletHealth.ZERO_BALANCE: "rgba(198, 40, 40, 0.16)",
    WalletHealth.LOW_BALANCE: "rgba(239, 108, 0, 0.18)",
    WalletHealth.INACTIVE: "rgba(158, 158, 158, 0.18)",
}
NEVER = "never"  # no run-out date: nothing spent lately (or too little to matter)
NONE = "none"  # no grant of the wallet expires
INACTIVE = "inactive"  # no run-out date: an inactive wallet spends nothing


def no_run_out(status: object) -> str:
    """What a missing run-out date means for a wallet of this status."""
    return INACTIVE if WalletStatus(status) is WalletStatus.INACTIVE else NEVER


def wallet_table(frame: pd.DataFrame, days: int = 30) -> pd.DataFrame:
    """wallet_overview's frame as a table to show: the columns a reader needs first
    (workspace, health, balance, when it runs out) on the left, so they stay on screen
    at phone width; readable headers; floats for display; a missing run-out date says
    why ("never", "inactive")."""
    return pd.DataFrame(
        {
            "Workspace": frame["workspace"].map(visible_text),
            "Health": frame["health"],
            "Balance": frame["balance"].astype(float),
            "Runs out on": [
                no_run_out(s) if d is None else str(d)
                for d, s in zip(frame["runs_out_on"], frame["status"], strict=True)
            ],
            "Days left": [  # text: a number column would draw a grey "None" for the rest
                no_run_out(s) if pd.isna(d) else f"{int(d):,}"
                for d, s in zip(frame["days_left"], frame["status"], strict=True)
            ],
            "Per day": frame["per_day"].astype(float),
            f"{days}-day spend": frame["spent"].astype(float),
            "Pending": frame["pending"].astype(float),
            "Expires unused": [float(v) for v in frame["expires_unused"]],
            "Expiring in 30 days": [float(v) for v in frame["expiring_30d"]],
            "Next expiry": [NONE if d is None else local_time(d) for d in frame["next_expiry"]],
            "Status": frame["status"],
        }
    )


def styled_wallets(table: pd.DataFrame) -> Any:
    """wallet_table's frame as a Styler: money with two decimals, rows that need
    attention (zero, low, inactive) tinted."""

    def tint(row: pd.Series) -> list[str]:
        colour = HEALTH_COLOURS.get(WalletHealth(row["Health"]))
        return [f"background-color: {colour}" if colour else ""] * len(row)

    money = [c for c in table.columns if c in ("Balance", "Per day", "Pending", "Expires unused",
                                                "Expiring in 30 days") or c.endswith("-day spend")]
    return table.style.apply(tint, axis=1).format(dict.fromkeys(money, "{:,.2f}"), na_rep="—")


def wallet_columns(days: int) -> dict[str, Any]:
    """column_config for wallet_table: the workspace stays in view when the table
    scrolls sideways; the run-out columns say what a missing date means."""
    meaning = (f"At the last {days} days' rate; never when nothing was spent lately, "
               "inactive when the wallet spends nothing until an administrator reactivates it")
    return {
        "Workspace": st.column_config.TextColumn(pinned=True),
        "Runs out on": st.column_config.TextColumn(help=meaning),
        "Days left": st.column_config.TextColumn(help=meaning, alignment="right"),
        "Expires unused": st.column_config.NumberColumn(
            help=f"Credits that will expire before they are spent if spend goes on at the last {days} "
                 "days' rate (the draw-down order simulated day by day)"),
    }
