"""Use credits: a stand-in for a product feature that spends en-credits.

"Ask the AI assistant" charges a fixed price per question through billing_core's
`consume`, which refuses at zero balance or on an inactive wallet. The page shows
that refusal up front and disables the action, so the blocking rule is visible end to end.
"""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

import streamlit as st

from billing_core import BillingError, User, Wallet, Workspace
from pages._shared import (
    NO_CREDITS,
    attempt,
    credits,
    flash,
    get_ledger,
    pick_workspace,
    plain,
    require_user,
    section,
    show_flash,
)
from pages._text import visible_text

PRICE = Decimal("2")
FEATURE = "AI chat"
QUESTION_KEY = "billing.assistant.question"
ANSWER_KEY = "billing.assistant.answer"
NOTICE_KEY = "billing.assistant.notice"


def ask(user: User, workspace: Workspace) -> None:
    """The Ask button's callback: charge one question with a fresh idempotency key.

    It runs before the page is drawn again, so billing_core decides on the wallet as it is
    at the click (another session may have spent the last credits or deactivated it) and
    its refusal, "No credits available: ...", is what the person reads.
    """
    question = str(st.session_state.get(QUESTION_KEY) or "").strip()
    if not question:
        st.session_state[NOTICE_KEY] = ("warning", "Type a question first.")
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
        st.session_state[NOTICE_KEY] = ("error", str(error))
        return
    st.session_state[ANSWER_KEY] = {"workspace_id": workspace.id, "question": question}
    st.session_state[QUESTION_KEY] = ""  # ready for the next question
    flash(f"Charged {credits(charged.amount)}. {credits(left.balance)} left.")


def assistant(user: User, workspace: Workspace, wallet: Wallet) -> None:
    with st.container(border=True):
        st.subheader("Ask the AI assistant")
        st.caption(f"Each question costs {credits(PRICE)}, paid from this workspace's wallet.")
        reason = wallet.blocked_reason
        short = reason is None and wallet.balance < PRICE
        if reason:
            st.error(f"**{NO_CREDITS}** {reason}", icon=":material/block:")  # billing_core's words
        elif short:
            st.warning(
                f"Not enough credits: a question costs {credits(PRICE)} and this workspace "
                f"has {credits(wallet.balance)}. Ask for more on the Billing page.",
                icon=":material/warning:",
            )
        blocked = reason is not None or short
        st.text_area("Your question", key=QUESTION_KEY, max_chars=500,
                                placeholder="For example: summarise last week's support tickets",
                                disabled=blocked)
        st.button(f"Ask · {credits(PRICE)}", type="primary", key="billing.assistant.ask",
                  icon=":material/send:", disabled=blocked, on_click=ask,
                  args=(user, workspace))
        notice = st.session_state.pop(NOTICE_KEY, None)
        if notice and notice[0] == "error":
            st.error(plain(notice[1]), icon="⚠️")  # billing_core's message may quote names
        elif notice:
            st.warning(notice[1], icon=":material/edit:")  # the page's own words
        answer = st.session_state.get(ANSWER_KEY)
        if isinstance(answer, dict) and answer.get("workspace_id") == workspace.id:
            with st.chat_message("user"):
                st.text(visible_text(answer["question"]))
            with st.chat_message("assistant"):
                st.write(
                    "This demo stands in for a real assistant, so there is no answer here; "
                    f"what matters is the charge of {credits(PRICE)} you can see in the "
                    "workspace's transaction history on the Billing page."
                )


def main() -> None:
    st.title("Use credits")
    st.caption(
        "A stand-in for a product feature that uses en-credits: try it to see the balance go "
        "down, and the feature blocked when no credits are available."
    )
    viewer = require_user()
    show_flash()
    picked = pick_workspace(viewer)
    if picked is None:
        return
    with section("Ask the AI assistant"):
        current = attempt(lambda: get_ledger().wallet(viewer, picked.id))
        if current is None:
            return
        st.metric(f"Available in {plain(picked.name)}", credits(current.balance))
        assistant(viewer, picked, current)


main()
