"""First run: a ledger nobody can administer yet shows how the operator creates the
first administrator, above the sign-in form.

Not a page (the underscore keeps it out of navigation).
"""

from __future__ import annotations

import streamlit as st


def first_run() -> None:
    """The page's heading and the steps for the first administrator."""
    st.title("Set up this billing console", anchor=False)
    st.info(
        "This ledger has no administrator yet. Whoever runs the server creates the first one "
        "with `billing admin create EMAIL --name NAME` (it asks for the password), then signs "
        "in here.",
        icon=":material/admin_panel_settings:",
    )
    st.markdown("On the server, in the project folder (with the same `--db` or `$BILLING_DB` as the app):")
    # plain text: the highlighted shell's colours are below 4.5:1 on the code background
    st.code('.venv/bin/billing admin create you@example.com --name "Your Name"', language=None)
    st.markdown(
        "It asks for the password twice without showing it (or reads one line from standard input "
        "with `--password-stdin`). An embedded DuckDB ledger is held by the app while it runs: stop "
        "the app, run the command, start the app again. Then sign in: **People & workspaces** adds "
        "workspaces, invites people and grants credits. The README's *Set up your organisation* "
        "walks through all of it."
    )
    st.subheader("Sign in", anchor=False)
