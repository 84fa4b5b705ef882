"""Billing: one workspace's wallet, credit requests, grants, spend and transaction history.

Every number and rule comes from billing_core; this page picks the workspace and calls
one render function per section, each behind its own error boundary (`section`). The
history comes last: it grows as the reader scrolls to its end, so nothing may sit below it.
"""

from __future__ import annotations

import streamlit as st

from billing_core import RequestStatus
from pages import _notice
from pages._billing_history import history_section
from pages._billing_spend import spend_section
from pages._credit_requests import requests_section
from pages._grants import grants_section
from pages._shared import attempt, get_ledger, pick_workspace, require_user, section
from pages._wallet_card import wallet_card

st.title("Billing", anchor=False)
st.caption(
    "Track the workspace en-credits balance, review transaction history, and manage "
    "top-up requests."
)
viewer = require_user()
_notice.show(_notice.PAGE)
picked = pick_workspace(viewer)
if picked is None:
    st.stop()
assert picked is not None
book = get_ledger()
wallet = attempt(lambda: book.wallet(viewer, picked.id))
requests = attempt(lambda: book.requests(viewer, workspace_id=picked.id))
if wallet is None or requests is None:
    st.stop()
assert wallet is not None and requests is not None
with section("wallet"):
    wallet_card(wallet, [r for r in requests if r.status is RequestStatus.PENDING], viewer)
with section("credit requests"):
    requests_section(viewer, picked, requests)
with section("grants"):  # after the requests: New request stays a few Tabs from the top
    grants_section(viewer, picked)
spend_section(viewer, picked.id)  # the two fragments have their own error boundaries
history_section(viewer, picked, wallet.updated_at)  # last: it grows as the reader scrolls
