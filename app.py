"""Entry point of the billing console (minimal: lists the demo wallets)."""

from __future__ import annotations

import streamlit as st

import billing_core

st.set_page_config(page_title="Billing · en-credits", page_icon="💳", layout="wide")


@st.cache_resource
def ledger() -> billing_core.Ledger:
    return billing_core.open_ledger()


st.title("Billing")
st.caption("Track the workspace en-credits balance, review transaction history, and manage top-up requests.")
book = ledger()
operator = book.system_user()
rows = [
    {
        "Workspace": s.wallet.workspace_name,
        "Available balance": billing_core.format_credits(s.wallet.balance),
        "Wallet status": s.wallet.status.value,
    }
    for s in book.wallets(operator)
]
if rows:
    st.dataframe(rows, hide_index=True)
else:
    st.info("No workspaces yet. Run `billing seed` to create the demo.")
