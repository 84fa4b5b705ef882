"""Deciding credit requests from Approvals: one verdict on one or several requests, one
outcome per request, told to the administrator by a notice on the next run.

Not a page (the underscore keeps it out of navigation). billing_core holds every rule
(admins only, four eyes, exactly once, a rejection needs a reason, the grant's terms).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import streamlit as st

from billing_core import CreditRequest, InvalidInput, Ledger, User
from pages import _a11y, _grant_terms, _notice
from pages._notice import Notice, Tone
from pages._shared import credits, current_user, get_ledger, plain, try_billing

KEY = "billing.approvals"
BULK_NOTE = f"{KEY}.bulk_note"
REFRESH_ALL = f"{KEY}.refresh_all"  # a decision changed the books: rerun the whole page
NOTICES = f"{KEY}.queue"  # where the outcomes are shown
ORDER_KEY = f"{KEY}.order"  # the queue's request ids as last drawn
HEAD_KEY = f"{KEY}.queue_head"


class Verdict(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


def css_key(key: str) -> str:
    """The class Streamlit gives the element with this key."""
    return "st-key-" + key.replace(".", "-")


def card(request_id: int) -> str:
    return "." + css_key(f"{KEY}.card.{request_id}")


def pick_key(request_id: int) -> str:
    return f"{KEY}.pick.{request_id}"


def note_key(request_id: int) -> str:
    return f"{KEY}.note.{request_id}"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one request: the decided request, or billing_core's refusal. The
    request id is the caller's, so a refusal names its request whatever its wording."""

    request_id: int
    verdict: Verdict
    decided: CreditRequest | None
    refusal: str | None = None
    about_note: bool = False  # the refusal is about the note (missing reason, too long)

    @property
    def ok(self) -> bool:
        return self.decided is not None

    @property
    def message(self) -> str:
        """A sentence (user text in it as stored: escape it before drawing it as markdown)."""
        if self.decided is None:
            return f"Could not {self.verdict.value} request #{self.request_id}: {self.refusal}"
        amount, workspace = credits(self.decided.amount), self.decided.workspace_name
        if self.verdict is Verdict.APPROVE:
            return f"Approved #{self.request_id}: {amount} added to {workspace}."
        return f"Rejected #{self.request_id}: {amount} for {workspace}."


def decide(
    ledger: Ledger, admin: User, request_ids: list[int], verdict: Verdict, note: str | None
) -> list[Outcome]:
    """Approve or reject each request in turn; one Outcome per request. A bad note is
    the same for every request, so it stops the batch at the first one."""
    outcomes = []
    for request_id in request_ids:
        if verdict is Verdict.APPROVE:  # the grant's terms as set on the request's card
            kind, expires_at = _grant_terms.terms(request_id)
            done, error = try_billing(lambda r=request_id, k=kind, e=expires_at: ledger.approve_request(
                admin, r, note or None, kind=k, expires_at=e))
        else:
            done, error = try_billing(
                lambda r=request_id: ledger.reject_request(admin, r, note or ""))
        outcomes.append(Outcome(request_id, verdict, done, None if error is None else str(error),
                                isinstance(error, InvalidInput)))
        if isinstance(error, InvalidInput):
            break
    return outcomes


def tell(outcomes: list[Outcome], note_from: str) -> None:
    """Queue the outcomes: successes as a toast and in the page (one sentence, or a list
    under a toast that counts them); refusals as an error listing each."""
    done = [plain(o.message) for o in outcomes if o.ok]
    failed = [plain(o.message) for o in outcomes if not o.ok]
    if len(outcomes) == 1 and done:
        _notice.notify(NOTICES, Notice(done[0], toast=done[0]))
    elif done:
        toast = f"{len(done)} of {len(outcomes)} requests decided."
        _notice.notify(NOTICES, Notice(_notice.lines(done), toast=toast))
    if failed:  # a refusal of the note is tied to the note's field, and focus goes there
        fields = ((_a11y.widget(note_from),) if any(o.about_note for o in outcomes) else ())
        _notice.notify(NOTICES, Notice(_notice.lines(failed), Tone.ERROR, fields=fields))
        if fields and not done:
            _a11y.request_focus(*fields)


def on_decide(request_ids: list[int], verdict: Verdict, note_from: str, bulk: bool = False) -> None:
    """Button callback: runs before the next script run, even when the clicked card is
    gone by then (another admin decided it), so billing_core's answer always reaches
    the admin."""
    ledger, admin = get_ledger(), current_user()
    if admin is None:
        return
    if bulk:  # only the requests still ticked when the button was clicked
        request_ids = [r for r in request_ids if st.session_state.get(pick_key(r))]
    outcomes = decide(ledger, admin, request_ids, verdict, st.session_state.get(note_from))
    tell(outcomes, note_from)
    decided = {o.request_id for o in outcomes if o.ok}
    if decided:  # their cards go: focus the next card left, else the queue's heading
        order = list(st.session_state.get(ORDER_KEY) or [])
        first = min((order.index(r) for r in decided if r in order), default=0)
        left = [r for r in order[first:] + order[:first][::-1] if r not in decided]
        _a11y.request_focus(*(card(r) for r in left), f".{css_key(HEAD_KEY)} h2")
        st.session_state[REFRESH_ALL] = True
        if bulk:
            st.session_state[BULK_NOTE] = ""
