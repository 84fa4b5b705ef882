"""Alerts & webhooks (administrators): each workspace's low-balance levels, the webhook
endpoints that receive signed events, and the delivery log.

billing_core checks every setting, URL and secret, and keeps the audit trail; this page
asks, shows and reports what it said.
"""

from __future__ import annotations

import streamlit as st

from pages import _notice
from pages._alert_levels import levels_section
from pages._deliveries import deliveries_section
from pages._shared import plain, require_user, section
from pages._webhooks import webhooks_section

st.title("Alerts & webhooks", anchor=False)
viewer = require_user()
if not viewer.is_admin:
    st.error("Alerts and webhooks are set by administrators.", icon=":material/lock:")
    st.stop()
_notice.show(_notice.PAGE)
st.header("Low-balance levels", anchor=False)
with section("Low-balance levels"):
    levels_section(viewer)
st.header("Webhooks", anchor=False)
with section("Webhooks"):
    webhooks_section(viewer)
st.header("Delivery log", anchor=False)
with section("Delivery log"):
    deliveries_section(viewer)
st.caption(plain("Email settings are each person's own, on their Inbox page."))
