"""Use credits: a stand-in for a product feature that spends en-credits ("Ask the AI
assistant"), so the blocking rule is visible end to end."""

from __future__ import annotations

import streamlit as st

from pages import _notice
from pages._assistant import assistant
from pages._shared import attempt, credits, get_ledger, pick_workspace, plain, require_user, section

st.title("Use credits", anchor=False)
st.caption(
    "A stand-in for a product feature that uses en-credits: try it to see the balance go "
    "down, and the feature blocked when no credits are available."
)
viewer = require_user()
_notice.show(_notice.PAGE)
picked = pick_workspace(viewer)
if picked is not None:
    with section("Ask the AI assistant"):
        current = attempt(lambda: get_ledger().wallet(viewer, picked.id))
        if current is not None:
            st.metric(f"Available in {plain(picked.name)}", credits(current.balance))
            assistant(viewer, picked, current)
