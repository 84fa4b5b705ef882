"""Use credits' stand-in feature, "Ask the AI assistant": each question is about 1,000
tokens of AI chat, priced by the rate card and charged through billing_core's
`consume_usage` (which refuses at zero balance or on an inactive wallet, like `consume`).
The refusal is shown up front and the action disabled.

Not a page (the underscore keeps it out of navigation).
"""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

import streamlit as st

from billing_core import BillingError, Unit, User, Wallet, Workspace
from billing_core.pricing import quote
from pages import _a11y, _notice
from pages._notice import Notice, Tone
from pages._shared import NO_CREDITS, credits, flash, get_ledger, plain
from pages._text import visible_text

TOKENS = Decimal(1000)  # what one question uses, as the stand-in counts it
UNIT = Unit.TOKEN
FEATURE = "AI chat"
QUESTION_KEY = "billing.assistant.question"
ANSWER_KEY = "billing.assistant.answer"
NOTICES = "billing.assistant"  # where a refusal or a missing question is shown


def price(user: User) -> Decimal | None:
    """What a question costs now by the rate card (None: AI chat has no price in tokens or
    thousand tokens)."""
    ledger = get_ledger()
    return quote(ledger.prices(user), FEATURE, TOKENS, UNIT, ledger.now())


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
        charged = ledger.consume_usage(
            user, workspace.id, FEATURE, TOKENS, unit=UNIT,
            description="Question to the AI assistant",
            idempotency_key=f"assistant:{uuid4()}",
        )
        left = ledger.wallet(user, workspace.id)
    except BillingError as error:
        _notice.notify(NOTICES, Notice(plain(str(error)), Tone.ERROR))  # may quote names
        return
    st.session_state[ANSWER_KEY] = {"workspace_id": workspace.id, "question": question,
                                    "charged": str(charged.amount)}
    st.session_state[QUESTION_KEY] = ""  # ready for the next question
    flash(f"Charged {credits(charged.amount)}. {credits(left.balance)} left.")


def refusal(wallet: Wallet, cost: Decimal | None) -> None:
    """Why the feature is blocked (billing_core's words), or why one question is too dear."""
    if wallet.blocked_reason:
        st.error(f"**{NO_CREDITS}** {wallet.blocked_reason}", icon=":material/block:")
    elif cost is None:
        st.warning(f"{FEATURE} has no price on the rate card yet: an administrator can add one "
                   "under Approvals > Prices.", icon=":material/sell:")
    elif not wallet.can_spend(cost):
        st.warning(
            f"Not enough credits: a question costs {credits(cost)} and this workspace "
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
            f"what matters is the charge of {credits(Decimal(asked['charged']))} you can see in the "
            "workspace's transaction history on the Billing page."
        )


def assistant(user: User, workspace: Workspace, wallet: Wallet) -> None:
    cost = price(user)
    with st.container(border=True):
        st.header("Ask the AI assistant", anchor=False)
        if cost is not None:
            st.caption(f"Each question is about {TOKENS:,} tokens of {FEATURE}: {credits(cost)} by "
                       "the rate card, paid from this workspace's wallet.")
        refusal(wallet, cost)
        blocked = cost is None or not wallet.can_spend(cost)
        st.text_area("Your question", key=QUESTION_KEY, max_chars=500,
                     placeholder="For example: summarise last week's support tickets",
                     disabled=blocked)
        label = "Ask" if cost is None else f"Ask · {credits(cost)}"
        st.button(label, type="primary", key="billing.assistant.ask",
                  icon=":material/send:", disabled=blocked, on_click=ask,
                  args=(user, workspace))
        _notice.show(NOTICES, fields=[_a11y.widget(QUESTION_KEY, "textarea")])
        answer(workspace)
