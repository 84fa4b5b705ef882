from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from billing_core import AccountLocked, AuthenticationFailed, InvalidInput, Ledger
from tests.conftest import FakeClock


@pytest.fixture
def book(new_ledger: Callable[..., Ledger]) -> tuple:
    clock = FakeClock(datetime(2026, 11, 27, 12, 0))
    ledger = new_ledger(clock=clock)
    ledger.add_user("alice@example.com", "Alice", password="correct horse")
    return ledger, clock


def test_right_password_signs_in_case_insensitively(book: tuple) -> None:
    ledger, _ = book
    assert ledger.authenticate("ALICE@example.com ", "correct horse").name == "Alice"


@pytest.mark.parametrize(
    ("email", "password"),
    [("alice@example.com", "wrong"), ("nobody@example.com", "x"), ("", ""), (None, None)],
)
def test_wrong_password_and_unknown_email_get_one_neutral_message(book: tuple, email, password) -> None:
    ledger, _ = book
    with pytest.raises(AuthenticationFailed) as info:
        ledger.authenticate(email, password)
    assert str(info.value) == "That email and password do not match an account."


def test_five_failures_slow_that_email_down_and_each_further_one_doubles_the_wait(book: tuple) -> None:
    ledger, clock = book
    for _ in range(5):
        with pytest.raises(AuthenticationFailed):
            ledger.authenticate("alice@example.com", "wrong")
        clock.now += timedelta(seconds=10)
    with pytest.raises(AccountLocked, match="Wait 20 seconds"):
        ledger.authenticate("alice@example.com", "correct horse")  # not even checked
    clock.now += timedelta(seconds=20)
    with pytest.raises(AuthenticationFailed):
        ledger.authenticate("alice@example.com", "wrong again")  # the 6th: now 60 s
    clock.now += timedelta(seconds=59)
    with pytest.raises(AccountLocked, match="Wait 1 seconds"):
        ledger.authenticate("alice@example.com", "correct horse")
    clock.now += timedelta(seconds=1)
    assert ledger.authenticate("alice@example.com", "correct horse").email == "alice@example.com"
    with pytest.raises(AuthenticationFailed) as fresh:  # a success starts the count again
        ledger.authenticate("alice@example.com", "wrong")
    assert type(fresh.value) is AuthenticationFailed


def test_password_hash_is_argon2_and_never_returned(book: tuple) -> None:
    ledger, _ = book
    user = ledger.authenticate("alice@example.com", "correct horse")
    assert "argon2" not in repr(user)
    with ledger.db.reading() as cur:
        stored = cur.execute("SELECT password_hash FROM users WHERE email = 'alice@example.com'").fetchone()[
            0
        ]
    assert stored.startswith("$argon2id$") and "correct horse" not in stored


def test_short_passwords_are_refused(book: tuple) -> None:
    ledger, _ = book
    with pytest.raises(InvalidInput):
        ledger.add_user("bob@example.com", "Bob", password="short")


def test_sso_maps_known_emails_only(book: tuple) -> None:
    ledger, _ = book
    assert ledger.user_for_sso("Alice@Example.com").name == "Alice"
    with pytest.raises(AuthenticationFailed, match="no account"):
        ledger.user_for_sso("mallory@example.com")
