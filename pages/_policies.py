"""Approvals: each workspace's credit policy (standing approval, automatic top-up, what
approvals grant), shown and edited by administrators.

Not a page (the underscore keeps it out of navigation). billing_core checks the values,
saves them and audits the change with before and after; this only draws the form.
"""

from __future__ import annotations

from decimal import Decimal

import streamlit as st

from billing_core import CreditPolicy, GrantKind, Ledger, User, format_credits
from pages import _notice
from pages._notice import Notice, Tone
from pages._shared import attempt, current_user, get_ledger, try_billing
from pages._text import plain, visible_text

KEY = "billing.approvals.policy"
NOTICES = KEY  # where a save's outcome is shown
KINDS = {GrantKind.PURCHASED.value: "Purchased", GrantKind.PROMOTIONAL.value: "Promotional"}
FIELDS = ("approve_up_to", "approve_per_month", "top_up_below", "top_up_amount", "top_ups_per_month",
          "grant_kind", "grant_days")


def describe(policy: CreditPolicy) -> list[str]:
    """The policy in words, a line per rule."""
    lines = []
    if policy.approve_up_to is not None and policy.approve_per_month is not None:
        lines.append(f"Standing approval: requests up to {format_credits(policy.approve_up_to)} are "
                     f"approved at once, {format_credits(policy.approve_per_month)} a month at most.")
    else:
        lines.append("No standing approval: every request waits for an administrator.")
    if policy.top_up_below is not None and policy.top_up_amount is not None:
        lines.append(f"Automatic top-up: below {format_credits(policy.top_up_below)}, a request for "
                     f"{format_credits(policy.top_up_amount)} is filed (never while one is pending; "
                     f"at most {policy.top_ups_per_month} a month).")
    else:
        lines.append("No automatic top-up.")
    ends = f"expiring {policy.grant_days} days after approval" if policy.grant_days else "never expiring"
    lines.append(f"Approvals grant {KINDS[policy.grant_kind.value].lower()} credits, {ends}.")
    return lines


def _text(value: Decimal | int | None) -> str:
    return "" if value is None else (f"{value:f}".rstrip("0").rstrip(".") if isinstance(value, Decimal)
                                     else str(value))


def on_save(workspace_id: int) -> None:
    """The form's callback: the values as typed go to billing_core, which checks them."""
    admin = current_user()
    if admin is None:
        return
    values = {name: st.session_state.get(f"{KEY}.{workspace_id}.{name}") for name in FIELDS}
    values = {k: (v.strip() if isinstance(v, str) else v) for k, v in values.items()}
    saved, error = try_billing(lambda: get_ledger().set_credit_policy(admin, workspace_id, **values))
    if saved:
        _notice.notify(NOTICES, Notice("The policy was saved.", toast="The policy was saved."))
    else:
        _notice.notify(NOTICES, Notice(plain(str(error)), Tone.ERROR))


def policies_section(ledger: Ledger, admin: User) -> None:
    st.header("Credit policies", anchor=False)
    st.caption("Per workspace: approve small requests at once (a standing approval), file a "
               "request when the balance runs low (an automatic top-up), and what approvals grant.")
    _notice.show(NOTICES)
    spaces = attempt(lambda: ledger.workspaces(admin))
    if not spaces:
        return
    names = {w.id: w.name for w in spaces}
    workspace_id = st.selectbox("Workspace", list(names), format_func=lambda i: visible_text(names[i]),
                                key=f"{KEY}.pick")
    if workspace_id is None:
        return
    policy = attempt(lambda: ledger.credit_policy(admin, workspace_id))
    if policy is None:
        return
    for line in describe(policy):
        st.markdown(f"- {line}")
    with st.form(f"{KEY}.form.{workspace_id}", border=True, enter_to_submit=False):
        prefix = f"{KEY}.{workspace_id}"
        st.markdown("**Standing approval** (leave both empty for none)")
        left, right = st.columns(2)
        left.text_input("Approve each request up to", _text(policy.approve_up_to),
                        key=f"{prefix}.approve_up_to")
        right.text_input("At most this much a month", _text(policy.approve_per_month),
                         key=f"{prefix}.approve_per_month")
        st.markdown("**Automatic top-up** (leave all three empty for none)")
        below, amount, times = st.columns(3)
        below.text_input("When the balance falls below", _text(policy.top_up_below),
                         key=f"{prefix}.top_up_below")
        amount.text_input("Ask for", _text(policy.top_up_amount), key=f"{prefix}.top_up_amount")
        times.text_input("At most this many a month", _text(policy.top_ups_per_month),
                         key=f"{prefix}.top_ups_per_month")
        st.markdown("**What approvals grant** (prefilled when approving)")
        kind, days = st.columns(2)
        kind.selectbox("Kind", list(KINDS), index=list(KINDS).index(policy.grant_kind.value),
                       format_func=KINDS.__getitem__, key=f"{prefix}.grant_kind")
        days.text_input("Expire after this many days (empty: never)", _text(policy.grant_days),
                        key=f"{prefix}.grant_days")
        st.form_submit_button("Save policy", type="primary", on_click=on_save, args=(workspace_id,))
