"""A wallet's status badge, and the wallet card at the top of Billing (with what its
grants let expire soon).

Not a page (the underscore keeps it out of navigation). billing_core decides whether a
wallet is blocked and why (`Wallet.blocked_reason`); this only draws it.
"""

from __future__ import annotations

from decimal import Decimal

import streamlit as st

from billing_core import CreditRequest, User, Wallet, WalletStatus
from pages._grants import wallet_expiry
from pages._shared import NO_CREDITS, credits


def status_badge(status: WalletStatus) -> None:
    """Active or Inactive, in words and an icon as well as a colour."""
    if status is WalletStatus.ACTIVE:
        st.badge("Active", icon=":material/check_circle:", color="green")
    else:
        st.badge("Inactive", icon=":material/block:", color="red")


def wallet_card(wallet: Wallet, pending: list[CreditRequest], viewer: User) -> None:
    st.header("Wallet", anchor=False)
    with st.container(border=True):
        balance, status, asked = st.columns([2, 1, 1.3])
        balance.metric("Available balance", credits(wallet.balance))
        with status:
            st.caption("Wallet status")
            status_badge(wallet.status)
        with asked:
            st.caption("Pending requests")
            waiting = sum((r.amount for r in pending), Decimal(0))
            st.markdown(f"**{credits(waiting)}**" if pending else "None")
        wallet_expiry(viewer, wallet.workspace_id)
        reason = wallet.blocked_reason
        if reason:
            st.error(f"**{NO_CREDITS}** {reason}", icon=":material/block:")
