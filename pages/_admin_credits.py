"""People & workspaces, the Credits tab: grant credits with a reason (a grant of a kind,
optionally expiring), and correct a transaction with a reversing one.

Not a page. billing_core holds the rules (the grant limit and its second administrator,
corrections once only and never below zero); this asks and reports.
"""

from __future__ import annotations

import streamlit as st

from billing_core import EntryKind, GrantKind, Transaction, User, Workspace
from pages._grant_terms import KIND_LABELS, end_of
from pages._shared import attempt, credits, flash, get_ledger, local_time, plain
from pages._text import visible_text

KEY = "billing.people.credits"


def grant_form(admin: User, spaces: list[Workspace]) -> None:
    limit = get_ledger().settings.grant_limit
    today = get_ledger().today()
    st.header("Grant credits", anchor=False)
    st.caption(
        f"Up to {credits(limit)} a grant is added at once; above that, another administrator "
        "must approve it in Approvals, and sets its kind and expiry there."
    )
    with st.form(f"{KEY}.grant", border=True, clear_on_submit=True):
        space = st.selectbox("Workspace", spaces, index=None, key=f"{KEY}.space",
                             format_func=lambda w: visible_text(w.name), placeholder="Choose a workspace")
        amount = st.text_input("Amount (en-credits)", key=f"{KEY}.amount", placeholder="For example 5000")
        reason = st.text_input("Reason", key=f"{KEY}.reason", placeholder="For example Contract top-up")
        kind_column, ends_column = st.columns(2)
        kind = kind_column.selectbox(
            "Kind", list(KIND_LABELS), format_func=KIND_LABELS.__getitem__, key=f"{KEY}.kind",
            index=list(KIND_LABELS).index(GrantKind.PURCHASED.value),
            help="Promotional credits are drawn before purchased ones.",
        )
        last_day = ends_column.date_input(
            "Expires after", value=None, min_value=today, format="YYYY-MM-DD", key=f"{KEY}.expires",
            help="The last day the credits can be used; empty: they never expire.",
        )
        submitted = st.form_submit_button("Grant", type="primary", icon=":material/add_card:")
    if not submitted:
        return
    if space is None:
        st.error("Choose the workspace to grant credits to.", icon="⚠️")
        return
    expires_at = end_of(last_day)
    outcome = attempt(
        lambda: get_ledger().grant(admin, space.id, amount, reason=reason, kind=kind, expires_at=expires_at)
    )
    if outcome is None:
        return
    if outcome.request is not None:
        flash(plain(f"{credits(outcome.request.amount)} for {space.name} is above the limit: request "
                    f"#{outcome.request.id} waits for another administrator in Approvals."))
    elif outcome.entry is not None:
        ends = f", expiring {local_time(expires_at)}" if expires_at is not None else ""
        flash(plain(f"Granted {credits(outcome.entry.amount)} to {space.name}{ends}."))
    st.rerun()


def describe(entry: Transaction, names: dict[int, str]) -> None:
    sign = "+" if entry.kind is EntryKind.CREDIT else "−"
    where = plain(names.get(entry.workspace_id, str(entry.workspace_id)))
    st.markdown(
        f"**#{entry.id}**: {entry.kind.value} of **{sign}{credits(entry.amount)}** in **{where}** "
        f"on {local_time(entry.created_at)}"
    )
    st.text(visible_text(entry.description))


def correct_form(admin: User, spaces: list[Workspace]) -> None:
    st.header("Correct a transaction", anchor=False)
    st.caption(
        "A correction adds a reversing transaction that points at the one it corrects; nothing is "
        "edited or deleted. Transaction numbers are in the Billing page's history and its CSV."
    )
    number = st.number_input("Transaction number", min_value=1, step=1, value=None,
                             key=f"{KEY}.entry", placeholder="For example 1234")
    if number is None:
        return
    entry = attempt(lambda: get_ledger().transaction(admin, int(number)))
    if entry is None:
        return
    describe(entry, {w.id: w.name for w in spaces})
    with st.form(f"{KEY}.correct", border=True, clear_on_submit=True):
        reason = st.text_input("Reason for the correction", key=f"{KEY}.why")
        submitted = st.form_submit_button(f"Reverse #{entry.id}", icon=":material/undo:")
    if submitted:
        fix = attempt(lambda: get_ledger().correct_entry(admin, entry.id, reason=reason))
        if fix is not None:
            flash(f"#{entry.id} is reversed by #{fix.id}.")
            st.rerun()


def credits_tab(admin: User) -> None:
    spaces = get_ledger().workspaces(admin, include_archived=True)
    grant_form(admin, [w for w in spaces if not w.archived])
    st.divider()
    correct_form(admin, spaces)
