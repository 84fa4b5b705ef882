"""Approvals' wallets: totals, the wallets that need attention, every wallet as a table
(billing_core's health, run-out dates and days left) and activate/deactivate.

Not a page (the underscore keeps it out of navigation).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from billing_core import Ledger, User, WalletHealth, WalletStatus
from pages import _notice
from pages._notice import Notice, Tone
from pages._shared import attempt, current_user, figure, get_ledger, plain, try_billing
from pages._text import badge_label, visible_text
from pages._wallet_card import status_badge
from pages._wallet_table import styled_wallets, wallet_columns, wallet_table

KEY = "billing.approvals"
NOTICES = f"{KEY}.wallets"
DAYS = 30


def wallets_section(ledger: Ledger, admin: User) -> None:
    st.header("Every wallet", anchor=False)
    _notice.show(NOTICES)
    frame = attempt(lambda: ledger.wallet_overview(admin, days=DAYS))  # health included
    if frame is None:
        return
    if frame.empty:
        st.info("No workspaces yet: wallets appear here once a workspace is created.")
        return
    st.caption(f"{len(frame)} wallets; amounts in en-credits.")
    totals(frame)
    attention(frame)
    st.dataframe(
        styled_wallets(wallet_table(frame, DAYS)),
        hide_index=True,
        key=f"{KEY}.wallets",
        column_config=wallet_columns(DAYS),
    )
    wallet_status_control(frame)


def with_health(frame: pd.DataFrame, health: WalletHealth) -> pd.DataFrame:
    return frame[frame["health"] == health]


def totals(frame: pd.DataFrame) -> None:
    cols = st.columns(5)
    cols[0].metric("Total balance", figure(sum(frame["balance"])), border=True)
    cols[1].metric(f"Spent, last {DAYS} days", figure(sum(frame["spent"])), border=True)
    cols[2].metric("Pending requests", figure(sum(frame["pending"])), border=True)
    cols[3].metric("Zero balance", len(with_health(frame, WalletHealth.ZERO_BALANCE)),
                   border=True)
    cols[4].metric("Low balance", len(with_health(frame, WalletHealth.LOW_BALANCE)),
                   border=True, help="Runs out within 14 days at the last 30 days' rate.")


def attention(frame: pd.DataFrame) -> None:
    """A badge for each wallet that needs attention: zero, low, inactive."""
    low = with_health(frame, WalletHealth.LOW_BALANCE)
    badges = [
        (f"{name}: zero balance, features blocked", "red")
        for name in with_health(frame, WalletHealth.ZERO_BALANCE)["workspace"]
    ] + [
        (f"{name}: runs out {day} ({left} days)", "orange")
        for name, day, left in zip(low["workspace"], low["runs_out_on"], low["days_left"],
                                   strict=True)
    ] + [
        (f"{name}: wallet inactive", "gray")
        for name in with_health(frame, WalletHealth.INACTIVE)["workspace"]
    ]
    if badges:
        with st.container(horizontal=True, key=f"{KEY}.attention"):
            for label, colour in badges:
                st.badge(badge_label(label), icon=":material/warning:", color=colour)


def wallet_status_control(frame: pd.DataFrame) -> None:
    """Pick a wallet by name and flip its status. The picker's labels are the names only:
    Streamlit keeps a picked option by its label, so a label holding the status went stale
    after a change; the status is drawn next to it from this run's data instead."""
    st.markdown("**Activate or deactivate a wallet**")
    st.caption("An inactive wallet blocks every feature that uses credits in its workspace.")
    names = dict(zip(frame["workspace_id"].astype(int), frame["workspace"], strict=True))
    status = {int(i): WalletStatus(s)
              for i, s in zip(frame["workspace_id"], frame["status"], strict=True)}
    pick, now, act = st.columns([3, 1.2, 2], vertical_alignment="bottom")
    workspace_id = pick.selectbox(
        "Wallet", list(names), format_func=lambda i: visible_text(names[i]),
        key=f"{KEY}.status_pick",
    )
    if workspace_id is None:
        return
    active = status[workspace_id] is WalletStatus.ACTIVE
    with now.container(key=f"{KEY}.status_now"):
        status_badge(status[workspace_id])
    new_status = WalletStatus.INACTIVE if active else WalletStatus.ACTIVE
    label = "Deactivate wallet" if active else "Activate wallet"
    act.button(label, key=f"{KEY}.status_button", icon=":material/power_settings_new:",
               on_click=on_set_status, args=(workspace_id, new_status))


def on_set_status(workspace_id: int, status: WalletStatus) -> None:
    """Button callback with the status chosen on screen (never re-derived on the next run,
    so a click can't flip a wallet another admin just changed)."""
    admin = current_user()
    if admin is None:
        return
    wallet, error = try_billing(lambda: get_ledger().set_wallet_status(admin, workspace_id, status))
    if wallet is None:
        _notice.notify(NOTICES, Notice(plain(str(error)), Tone.ERROR))
        return
    done = plain(f"{wallet.workspace_name}'s wallet is now {wallet.status.value}.")
    _notice.notify(NOTICES, Notice(done, toast=done))
