"""My wallets' sections: the totals (available apart from blocked) and one line per
workspace. billing_core decides which credits are available and which are blocked.

Not a page (the underscore keeps it out of navigation).
"""

from __future__ import annotations

import streamlit as st

from billing_core import ConsolidatedWallet, WalletSummary, format_credits
from pages._shared import NO_CREDITS, credits, plain
from pages._wallet_card import status_badge

COLUMNS = [2.2, 1.8, 1, 1.8, 1.4]


def wallet_line(line: WalletSummary) -> None:
    wallet = line.wallet
    with st.container(border=True, key=f"billing.wallets.line.{wallet.workspace_id}"):
        name, balance, status, pending, link = st.columns(COLUMNS, vertical_alignment="center")
        name.markdown(f"**{plain(wallet.workspace_name)}**")
        balance.markdown(credits(wallet.balance))
        with status:
            status_badge(wallet.status)
        if line.pending_amount > 0:
            pending.markdown(f"{credits(line.pending_amount)} pending")
        else:
            pending.caption("No pending requests")
        link.page_link(
            "pages/billing.py",
            label="Open billing",
            icon=":material/arrow_forward:",
            query_params={"workspace": str(wallet.workspace_id)},
        )
        if wallet.blocked_reason:  # in words and an icon, not by colour alone
            st.badge(NO_CREDITS, icon=":material/block:", color="red")


def totals(summary: ConsolidatedWallet) -> None:
    """What features can spend now, apart from what inactive wallets hold; then what is
    asked for, and how many workspaces."""
    available, blocked, pending, count = st.columns(4)
    available.metric(
        "Available to spend (en-credits)", format_credits(summary.available_total, unit=False),
        border=True, help="The balances of your active wallets: what features can use now.",
    )
    blocked.metric(
        "Blocked (en-credits)", format_credits(summary.blocked_total, unit=False), border=True,
        help="Credits held in inactive wallets: features cannot use them until an "
        "administrator reactivates the wallet.",
    )
    pending.metric("Pending requests (en-credits)",
                   format_credits(summary.pending_total, unit=False), border=True,
                   help="Credits asked for and waiting for an administrator's decision.")
    count.metric("Workspaces", len(summary.wallets), border=True)
    if summary.blocked_total > 0:
        st.caption(
            f"{format_credits(summary.blocked_total)} in {summary.blocked_count} inactive "
            f"wallet{'s' if summary.blocked_count != 1 else ''} cannot be spent and are not "
            "counted as available."
        )


def wallet_lines(summary: ConsolidatedWallet) -> None:
    header = st.columns(COLUMNS)
    for column, title in zip(
        header, ["Workspace", "Balance", "Status", "Requested", ""], strict=True
    ):
        column.caption(title)
    for line in summary.wallets:
        wallet_line(line)


def no_wallets(is_admin: bool) -> None:
    hint = (
        " As an administrator you can still open any workspace's Billing page and see "
        "every wallet in Approvals."
        if is_admin
        else " Ask an administrator to add you to a workspace."
    )
    st.info("You are not a member of any workspace yet, so you have no wallets." + hint,
            icon=":material/wallet:")
