"""My wallets: the consolidated wallet, one line per workspace the signed-in person is in."""

from __future__ import annotations

import streamlit as st

from pages._shared import attempt, get_ledger, require_user, section
from pages._wallet_lines import no_wallets, totals, wallet_lines

st.title("My wallets", anchor=False)
st.caption("Your consolidated wallet: the en-credits of every workspace you are part of.")
viewer = require_user()
summary = attempt(lambda: get_ledger().consolidated_wallet(viewer))
if summary is not None and not summary.wallets:
    no_wallets(viewer.is_admin)
elif summary is not None:
    with section("Totals"):
        totals(summary)
    with section("Wallets"):
        wallet_lines(summary)
