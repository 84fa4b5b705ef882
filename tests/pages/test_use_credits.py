"""Use credits: the stand-in feature charges through billing_core and is blocked at zero."""

from __future__ import annotations

import re
from decimal import Decimal

from billing_core import EntryKind, Ledger

ACME, UMBRELLA, HOOLI = 1, 5, 6
NO_CREDITS = "No credits available: features that use en-credits are blocked."
ASK = "billing.assistant.ask"
QUESTION = "billing.assistant.question"


def use_credits(app_as, email: str, workspace: int | None = None):
    at = app_as(email)
    if workspace is not None:
        at.query_params["workspace"] = str(workspace)
    at.run()
    at.switch_page("pages/use_credits.py").run()
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["Use credits"]
    return at


def ask(at, question: str):
    at.text_area(key=QUESTION).input(question)
    at.button(key=ASK).click().run()
    assert not at.exception, at.exception
    return at


def test_asking_charges_the_price_once_and_shows_the_new_balance(app_as, app_ledger: Ledger):
    alan = app_ledger.user_by_email("alan@example.com")
    before = app_ledger.wallet(alan, ACME).balance
    newest = app_ledger.history(alan, ACME, limit=1).items[0].id
    at = ask(use_credits(app_as, "alan@example.com"), "Summarise the week")
    after = app_ledger.wallet(alan, ACME).balance
    assert after == before - Decimal("2")
    charge = app_ledger.history(alan, ACME, limit=1).items[0]
    assert charge.id > newest
    assert (charge.kind, charge.amount, charge.feature, charge.actor_id) == (
        EntryKind.DEBIT, Decimal("2.0000"), "AI chat", alan.id)
    assert at.metric[0].value == f"{after:,.2f} en-credits"
    assert [t.value for t in at.toast] == [f"Charged 2.00 en-credits. {after:,.2f} en-credits left."]
    assert [s.value for s in at.success] == [t.value for t in at.toast]  # and in the page
    assert "Summarise the week" in [t.value for t in at.text]  # drawn as text
    app_ledger.verify()


def test_every_click_is_its_own_charge(app_as, app_ledger: Ledger):
    alan = app_ledger.user_by_email("alan@example.com")
    before = app_ledger.wallet(alan, ACME).balance
    at = ask(use_credits(app_as, "alan@example.com"), "one")
    ask(at, "two")
    assert app_ledger.wallet(alan, ACME).balance == before - Decimal("4")


def test_an_empty_question_charges_nothing(app_as, app_ledger: Ledger):
    alan = app_ledger.user_by_email("alan@example.com")
    before = app_ledger.wallet(alan, ACME).balance
    at = ask(use_credits(app_as, "alan@example.com"), "   ")
    assert [w.value for w in at.warning] == ["Type a question first."]
    assert app_ledger.wallet(alan, ACME).balance == before


def test_blocked_up_front_on_an_inactive_wallet(app_as, app_ledger: Ledger):
    at = use_credits(app_as, "alan@example.com", HOOLI)
    assert at.selectbox[0].value.name == "Hooli Data"
    assert len(at.error) == 1
    assert NO_CREDITS in at.error[0].value and "inactive" in at.error[0].value
    assert at.button(key=ASK).disabled
    assert at.text_area(key=QUESTION).disabled


def test_blocked_up_front_at_zero_balance(app_as, app_ledger: Ledger):
    at = use_credits(app_as, "katherine@example.com")  # a member of Umbrella Labs only
    assert at.selectbox[0].options == ["Umbrella Labs"]
    assert at.metric[0].value == "0.00 en-credits"
    assert len(at.error) == 1
    assert NO_CREDITS in at.error[0].value and "0 en-credits" in at.error[0].value
    assert at.button(key=ASK).disabled


def test_blocked_between_page_and_click_shows_billing_cores_notification(app_as, app_ledger):
    alan = app_ledger.user_by_email("alan@example.com")
    at = use_credits(app_as, "alan@example.com")
    assert not at.button(key=ASK).disabled
    before = app_ledger.wallet(alan, ACME).balance
    admin = app_ledger.user_by_email("grace@example.com")
    app_ledger.set_wallet_status(admin, ACME, "inactive")  # meanwhile, in another session
    at.text_area(key=QUESTION).input("Still there?")
    at.button(key=ASK).click().run()
    assert not at.exception
    shown = [re.sub(r"\\(.)", r"\1", e.value) for e in at.error]  # as read: escapes removed
    assert any(e.startswith("No credits available: this workspace's wallet is inactive")
               for e in shown)
    assert app_ledger.wallet(alan, ACME).balance == before


def test_too_few_credits_for_a_question_disables_it(app_as, app_ledger: Ledger):
    alan = app_ledger.user_by_email("alan@example.com")
    balance = app_ledger.wallet(alan, ACME).balance
    app_ledger.consume(alan, ACME, balance - Decimal("1"), feature="Exports",
                       description="Leave one credit")
    at = use_credits(app_as, "alan@example.com")
    assert at.metric[0].value == "1.00 en-credits"
    assert [w.value for w in at.warning][0].startswith("Not enough credits")
    assert at.button(key=ASK).disabled


def test_member_cannot_charge_a_workspace_they_are_not_in(app_as, app_ledger: Ledger):
    at = use_credits(app_as, "alan@example.com", UMBRELLA)
    assert at.selectbox[0].value.name == "Acme Research"
    admin = app_ledger.user_by_email("ada@example.com")
    before = app_ledger.wallet(admin, UMBRELLA)
    ask(at, "charge the other one?")
    assert app_ledger.wallet(admin, UMBRELLA) == before
