"""Use credits' stand-in feature, "Ask the AI assistant": a fixed price per question,
charged through billing_core's `consume` (which refuses at zero balance or on an inactive
wallet). The refusal is shown up front and the action disabled.

Not a page (the underscore keeps it out of navigation).
"""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

import streamlit as st

from billing_core import BillingError, User, Wallet, Workspace
from pages import _a11y, _notice
from pages._notice import Notice, Tone
from pages._shared import NO_CREDITS, credits, flash, get_ledger, plain
from pages._text import visible_text

PRICE = Decimal("2")
FEATURE = "AI chat"
QUESTION_KEY = "billing.assistant.question"
ANSWER_KEY = "billing.assistant.answer"
NOTICES = "billing.assistant"  # where a refusal or a missing question is shown


def ask(user: User, workspace: Workspace) -> None:
    """The Ask button's callback: charge one question with a fresh idempotency key.

    It runs before the page is drawn again, so billing_core decides on the wallet as it is
    at the click (another session may have spent the last credits or deactivated it) and
    its refusal, "No credits available: ...", is what the person reads.
    """
    question = str(st.session_state.get(QUESTION_KEY) or "").strip()
    if not question:
        _notice.notify(NOTICES, Notice("Type a question first.", Tone.WARNING))
        return
    ledger = get_ledger()
    try:
        charged = ledger.consume(
            user, workspace.id, PRICE, feature=FEATURE,
            description="Question to the AI assistant",
            idempotency_key=f"assistant:{uuid4()}",
        )
        left = ledger.wallet(user, workspace.id)
    except BillingError as error:
        _notice.notify(NOTICES, Notice(plain(str(error)), Tone.ERROR))  # may quote names
        return
    st.session_state[ANSWER_KEY] = {"workspace_id": workspace.id, "question": question}
    st.session_state[QUESTION_KEY] = ""  # ready for the next question
    flash(f"Charged {credits(charged.amount)}. {credits(left.balance)} left.")


def refusal(wallet: Wallet) -> None:
    """Why the feature is blocked (billing_core's words), or why one question is too dear."""
    if wallet.blocked_reason:
        st.error(f"**{NO_CREDITS}** {wallet.blocked_reason}", icon=":material/block:")
    elif not wallet.can_spend(PRICE):
        st.warning(
            f"Not enough credits: a question costs {credits(PRICE)} and this workspace "
            f"has {credits(wallet.balance)}. Ask for more on the Billing page.",
            icon=":material/warning:",
        )


def answer(workspace: Workspace) -> None:
    """The last question asked in this workspace, and the stand-in's reply."""
    asked = st.session_state.get(ANSWER_KEY)
    if not isinstance(asked, dict) or asked.get("workspace_id") != workspace.id:
        return
    with st.chat_message("user"):
        st.text(visible_text(asked["question"]))
    with st.chat_message("assistant"):
        st.write(
            "This demo stands in for a real assistant, so there is no answer here; "
            f"what matters is the charge of {credits(PRICE)} you can see in the "
            "workspace's transaction history on the Billing page."
        )


def assistant(user: User, workspace: Workspace, wallet: Wallet) -> None:
    with st.container(border=True):
        st.header("Ask the AI assistant", anchor=False)
        st.caption(f"Each question costs {credits(PRICE)}, paid from this workspace's wallet.")
        refusal(wallet)
        blocked = not wallet.can_spend(PRICE)
        st.text_area("Your question", key=QUESTION_KEY, max_chars=500,
                     placeholder="For example: summarise last week's support tickets",
                     disabled=blocked)
        st.button(f"Ask · {credits(PRICE)}", type="primary", key="billing.assistant.ask",
                  icon=":material/send:", disabled=blocked, on_click=ask,
                  args=(user, workspace))
        _notice.show(NOTICES, fields=[_a11y.widget(QUESTION_KEY, "textarea")])
        answer(workspace)
