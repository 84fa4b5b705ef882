"""Cancelled requests say who cancelled them (the requester, or the responsible party) and
why (issue 11: the seed's "cancelled by the requester or the responsible party")."""

from __future__ import annotations

from billing_core import Ledger, RequestStatus

ACME = 1


def cancelled_rows(at):
    tables = [d.value for d in at.dataframe if "Cancelled by" in d.value.columns]
    assert len(tables) == 1
    return tables[0]


def test_the_requester_cancels_with_a_reason_and_the_tab_says_who_and_why(app_as, app_ledger: Ledger):
    alan = app_ledger.user_by_email("alan@example.com")
    (pending,) = app_ledger.requests(alan, workspace_id=ACME, status="pending")
    at = app_as("alan@example.com").run()
    at.text_input(key=f"billing.requests.reason.{pending.id}").input("Found budget <b>elsewhere</b>")
    at.button(key=f"billing.requests.cancel.{pending.id}").click().run()
    assert not at.exception
    done = app_ledger.credit_request(alan, pending.id)
    assert (done.status, done.decision_note) == (RequestStatus.CANCELLED, "Found budget <b>elsewhere</b>")
    assert done.cancelled_by_requester
    row = cancelled_rows(at).set_index("Request").loc[f"#{pending.id}"]
    assert row["Cancelled by"] == "Alan Turing (the requester)"
    assert row["Why"] == "Found budget <b>elsewhere</b>"  # a table draws it as text


def test_an_admin_cancelling_is_shown_as_the_responsible_party(app_as, app_ledger: Ledger):
    edsger = app_ledger.user_by_email("edsger@example.com")
    theirs = app_ledger.request_credits(edsger, ACME, "75")
    ada = app_ledger.user_by_email("ada@example.com")
    app_ledger.cancel_request(ada, theirs.id, "Duplicate of \u202e#31")
    at = app_as("edsger@example.com").run()
    assert not at.exception
    row = cancelled_rows(at).set_index("Request").loc[f"#{theirs.id}"]
    assert row["Cancelled by"] == "Ada Lovelace (an administrator)"
    assert row["Why"] == "Duplicate of <U+202E>#31"  # hidden characters shown
