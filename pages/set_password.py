"""Set your password: where an invitation or reset link (`/set-password?link=...`) leads.

billing_core checks the link (once only, 7 days, the newest one) and the password; this
page only says whose link it is, asks for the password twice and reports
(pages/_set_password_form.py).
"""

from __future__ import annotations

import streamlit as st

from pages._set_password_form import DONE_KEY, LINK, done_section, link_section

st.title("Set your password", anchor=False)
done = st.session_state.get(DONE_KEY)
token = st.query_params.get(LINK)
if done and not token:
    done_section(str(done))
elif not token:
    st.info("Open the link an administrator gave you: it leads here with its code.", icon=":material/link:")
else:
    link_section(str(token))
