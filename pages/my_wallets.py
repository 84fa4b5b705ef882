"""My wallets: the consolidated wallet, one line per workspace the signed-in person is in."""

from __future__ import annotations

import streamlit as st

from billing_core import ConsolidatedWallet, WalletStatus, WalletSummary, format_credits
from pages._shared import (
    NO_CREDITS,
    attempt,
    credits,
    get_ledger,
    plain,
    require_user,
    section,
)


def wallet_line(line: WalletSummary) -> None:
    wallet = line.wallet
    with st.container(border=True, key=f"billing.wallets.line.{wallet.workspace_id}"):
        name, balance, status, pending, link = st.columns(
            [2.2, 1.8, 1, 1.8, 1.4], vertical_alignment="center"
        )
        name.markdown(f"**{plain(wallet.workspace_name)}**")
        balance.markdown(credits(wallet.balance))
        with status:
            if wallet.status is WalletStatus.ACTIVE:
                st.badge("Active", icon=":material/check_circle:", color="green")
            else:
                st.badge("Inactive", icon=":material/block:", color="red")
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
        if wallet.blocked_reason:
            st.caption(f":red[{NO_CREDITS}]")


def totals(summary: ConsolidatedWallet) -> None:
    """What features can spend now, apart from what inactive wallets hold (billing_core
    decides which is which); then what is asked for, and how many workspaces."""
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
    header = st.columns([2.2, 1.8, 1, 1.8, 1.4])
    for column, title in zip(
        header, ["Workspace", "Balance", "Status", "Requested", ""], strict=True
    ):
        column.caption(title)
    for line in summary.wallets:
        wallet_line(line)


def main() -> None:
    st.title("My wallets")
    st.caption("Your consolidated wallet: the en-credits of every workspace you are part of.")
    viewer = require_user()
    summary = attempt(lambda: get_ledger().consolidated_wallet(viewer))
    if summary is None:
        return
    if not summary.wallets:
        hint = (
            " As an administrator you can still open any workspace's Billing page and see "
            "every wallet in Approvals."
            if viewer.is_admin
            else " Ask an administrator to add you to a workspace."
        )
        st.info("You are not a member of any workspace yet, so you have no wallets." + hint,
                icon=":material/wallet:")
        return
    with section("Totals"):
        totals(summary)
    with section("Wallets"):
        wallet_lines(summary)


main()
