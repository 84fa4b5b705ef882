"""Sessions in the app (issue 11), in AppTest: signing in starts a session whose cookie the
browser is asked to keep; a session ended anywhere signs the tab out with the message;
My account lists where you are signed in, ends any of them, changes the password.
(The cookie itself, reloads and tabs are covered in Chromium: tests/e2e/test_sign_in_sessions.py.)"""

from __future__ import annotations

import re
from pathlib import Path

from billing_core import Ledger
from pages._shared import COOKIE_KEY, SESSION_KEY

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = str(ROOT / "pages" / "account.py")
ENDED = "Your session has ended, sign in again."
K = "billing.account"


def user(ledger: Ledger, email: str):
    found = ledger.user_by_email(email)
    assert found is not None
    return found


def sign_in_through_the_form(app_as, email: str, password: str = "en-credits-demo"):
    at = app_as(None).run()
    at.text_input(key="billing.sign_in.email").input(email)
    at.text_input(key="billing.sign_in.password").input(password)
    next(b for b in at.button if b.label == "Sign in").click().run()
    assert not at.exception
    return at


def test_signing_in_starts_a_session_and_asks_the_browser_to_keep_it(app_as, app_ledger: Ledger) -> None:
    at = sign_in_through_the_form(app_as, "alan@example.com")
    token = at.session_state[SESSION_KEY]
    assert app_ledger.session_user(token) == user(app_ledger, "alan@example.com")
    cookie = at.session_state[COOKIE_KEY]
    assert cookie["set"] == token and cookie["maxAge"] == 12 * 3600 and cookie["nonce"]
    assert "clear" not in cookie


def test_a_session_ended_elsewhere_signs_this_tab_out_on_its_next_run(app_as, app_ledger: Ledger) -> None:
    at = app_as("alan@example.com").run()
    assert [t.value for t in at.title] == ["Billing"]
    token = at.session_state[SESSION_KEY]
    app_ledger.end_session(token)  # signed out in another tab
    at.run()  # (AppTest 1.67 reruns only the page after the first run, not app.py's router)
    assert not at.exception
    assert [w.value for w in at.warning] == ["Sign in to continue."]
    assert not at.metric and not at.dataframe  # nothing of Alan's is drawn
    assert at.session_state[SESSION_KEY] is None
    assert at.session_state[COOKIE_KEY]["clear"] == token  # only that token's cookie is cleared


def test_a_reload_with_an_ended_session_says_so_on_sign_in(app_as, app_ledger: Ledger) -> None:
    alan = user(app_ledger, "alan@example.com")
    token = app_ledger.start_session(alan).token
    app_ledger.end_session(token)
    at = app_as(None)
    at.session_state[SESSION_KEY] = token  # what the cookie brings back on a reload
    at.run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Sign in"]
    assert [w.value for w in at.warning] == [re.sub(r"([,.])", r"\\\1", ENDED)]
    assert at.session_state[COOKIE_KEY]["clear"] == token
    at.run()  # the browser's "cookie cleared" reruns the page: the message stays
    assert [w.value for w in at.warning] == [re.sub(r"([,.])", r"\\\1", ENDED)]
    at.text_input(key="billing.sign_in.email").input("alan@example.com")
    at.text_input(key="billing.sign_in.password").input("wrong")
    next(b for b in at.button if b.label == "Sign in").click().run()
    assert not at.warning  # said until they try again


def test_a_deactivated_person_is_signed_out_at_once(app_as, app_ledger: Ledger) -> None:
    at = app_as("alan@example.com").run()
    token = at.session_state[SESSION_KEY]
    app_ledger.deactivate_user(user(app_ledger, "ada@example.com"), user(app_ledger, "alan@example.com").id)
    at.run()
    assert [w.value for w in at.warning] == ["Sign in to continue."]
    again = app_as(None)
    again.session_state[SESSION_KEY] = token
    again.run()
    assert [t.value for t in again.title] == ["Sign in"]


def test_where_you_are_signed_in_lists_sessions_and_ends_another(app_as, app_ledger: Ledger) -> None:
    alan = user(app_ledger, "alan@example.com")
    elsewhere = app_ledger.start_session(alan, client="198.51.100.7", user_agent="Mozilla/5.0 (Phone) Safari")
    at = app_as("alan@example.com", script=ACCOUNT).run()
    assert not at.exception
    here = int(at.session_state[SESSION_KEY].split(".")[0])
    assert [t.value for t in at.title] == ["My account"]
    assert "Mozilla/5.0 (Phone) Safari" in [t.value for t in at.text]
    assert any("from 198.51.100.7" in c.value.replace("\\", "") for c in at.caption)
    labels = {b.key: b.label for b in at.button}
    assert labels[f"{K}.end.{here}"] == "Sign out" and labels[f"{K}.end.{elsewhere.id}"] == "End"
    at.button(key=f"{K}.end.{elsewhere.id}").click().run()
    assert not at.exception
    assert [s.id for s in app_ledger.sessions(alan)] == [here]
    assert app_ledger.session_user(at.session_state[SESSION_KEY]) == alan


def test_sign_out_everywhere_ends_every_session(app_as, app_ledger: Ledger) -> None:
    alan = user(app_ledger, "alan@example.com")
    other = app_ledger.start_session(alan).token
    at = app_as("alan@example.com", script=ACCOUNT).run()
    token = at.session_state[SESSION_KEY]
    at.button(key=f"{K}.everywhere").click().run()
    assert not at.exception
    assert app_ledger.sessions(alan) == []
    assert at.session_state[SESSION_KEY] is None and at.session_state[COOKIE_KEY]["clear"] == token
    assert [w.value for w in at.warning] == ["Sign in to continue."]
    for ended in (token, other):
        try:
            app_ledger.session_user(ended)
        except Exception as error:  # noqa: BLE001 - the refusal is the point
            assert str(error) == ENDED
        else:
            raise AssertionError("a session survived sign out everywhere")


def test_changing_the_password_keeps_this_session_and_ends_the_others(app_as, app_ledger: Ledger) -> None:
    alan = user(app_ledger, "alan@example.com")
    other = app_ledger.start_session(alan).token
    at = app_as("alan@example.com", script=ACCOUNT).run()
    at.text_input(key=f"{K}.current").input("en-credits-demo")
    at.text_input(key=f"{K}.new").input("a much longer password")
    at.text_input(key=f"{K}.again").input("a much longer password")
    next(b for b in at.button if b.label == "Change password").click().run()
    assert not at.exception
    assert [s.value for s in at.success] == ["Your password is changed. 1 other session ended."]
    assert app_ledger.authenticate("alan@example.com", "a much longer password") == alan
    assert app_ledger.session_user(at.session_state[SESSION_KEY]) == alan
    assert [s.id for s in app_ledger.sessions(alan)] == [int(at.session_state[SESSION_KEY].split(".")[0])]
    del other


def test_a_wrong_current_password_changes_nothing(app_as, app_ledger: Ledger) -> None:
    at = app_as("alan@example.com", script=ACCOUNT).run()
    at.text_input(key=f"{K}.current").input("not it")
    at.text_input(key=f"{K}.new").input("a much longer password")
    at.text_input(key=f"{K}.again").input("a much longer password")
    next(b for b in at.button if b.label == "Change password").click().run()
    assert [e.value for e in at.error] == [
        "Your current password is not the one you typed\\. Nothing was changed\\."
    ]
    assert app_ledger.authenticate("alan@example.com", "en-credits-demo")
