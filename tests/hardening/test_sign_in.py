"""Issue 4, item 11 (ledger level): wrong passwords, unknown emails, the lockout, the hash.

tests/unit/test_signin.py has the sequential basics (neutral message, five failures lock
for fifteen minutes, argon2). Here: the lockout under concurrent guessing, across spellings
of one email and for unknown emails; the hash and the password never shown or logged;
unknown emails cost the same time as wrong passwords; signed-in users kept apart when
many sign in at once (the browser side of sessions is tests/e2e's).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

import billing_core
from billing_core import AccountLocked, AuthenticationFailed, ClientThrottled, Ledger
from billing_core.signin import (
    ACCOUNT_MAX_FAILURES,
    CLIENT_MAX_FAILURES,
    MAX_DELAY,
    MAX_FAILURES,
    WINDOW,
)
from tests.conftest import FakeClock
from tests.hardening.books import in_threads, rows

PASSWORD = "correct horse battery"


@pytest.fixture
def cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 at its lightest: these tests make hundreds of attempts, and what they check is
    the counting, not the cost of a hash (real and dummy hashes stay equally cheap)."""
    from argon2 import PasswordHasher

    from billing_core import passwords

    light = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(passwords, "_HASHER", light)
    monkeypatch.setattr(passwords, "_DUMMY_HASH", light.hash("not-a-real-password"))


@pytest.fixture
def book(new_ledger: Callable[..., Ledger], cheap_hashing: None) -> tuple[Ledger, FakeClock]:
    clock = FakeClock(datetime(2026, 11, 27, 12, 0))
    ledger = new_ledger(clock=clock)
    for name in ("alice", "bob", "carol", "dave"):
        ledger.add_user(f"{name}@example.com", name.title(), password=f"{PASSWORD} {name}")
    return ledger, clock


def attempt_from(ledger: Ledger, client: str, email: str, password: str) -> str:
    try:
        ledger.authenticate(email, password, client=client)
        return "ok"
    except ClientThrottled:
        return "throttled"
    except AccountLocked:
        return "locked"
    except AuthenticationFailed:
        return "failed"


def attempt(ledger: Ledger, email: object, password: object) -> str:
    try:
        ledger.authenticate(email, password)  # type: ignore[arg-type]
        return "ok"
    except AccountLocked:
        return "locked"
    except AuthenticationFailed:
        return "failed"


def test_concurrent_guesses_get_no_more_tries_than_the_lockout_allows(book) -> None:
    ledger, _ = book
    guesses = 2 * MAX_FAILURES

    def guess(n: int, barrier: threading.Barrier) -> str:
        barrier.wait()
        return attempt(ledger, "alice@example.com", f"guess {n}")

    outcomes = Counter(in_threads(guesses, guess))
    assert outcomes["failed"] <= MAX_FAILURES, outcomes  # checked; the rest must be 'locked'


def test_the_slowdown_holds_across_spellings_of_the_email(book) -> None:
    ledger, clock = book
    for spelling in (
        "Alice@Example.com",
        " alice@example.com",
        "ALICE@EXAMPLE.COM ",
        "alice@example.COM",
        "alice@example.com",
    ):
        assert attempt(ledger, spelling, "wrong") == "failed"
        clock.now += timedelta(seconds=5)
    assert attempt(ledger, "alice@example.com", f"{PASSWORD} alice") == "locked"
    assert attempt(ledger, "bob@example.com", f"{PASSWORD} bob") == "ok"  # per email only


def test_an_attacker_elsewhere_cannot_lock_the_owner_out(book) -> None:
    """Failures slow down the client they come from: someone failing on Alice's account all
    day from their machine never keeps Alice, on hers, from signing in."""
    ledger, clock = book
    for _ in range(12):
        for _ in range(3):
            attempt_from(ledger, "attacker", "alice@example.com", "guess")
        clock.now += timedelta(minutes=1)
    assert attempt_from(ledger, "attacker", "alice@example.com", f"{PASSWORD} alice") == "locked"
    assert attempt_from(ledger, "alice-home", "alice@example.com", f"{PASSWORD} alice") == "ok"


def test_guessing_across_many_emails_stops_that_client(book) -> None:
    ledger, clock = book
    for n in range(CLIENT_MAX_FAILURES):
        assert attempt_from(ledger, "203.0.113.9", f"user{n}@example.com", "guess") == "failed"
    assert attempt_from(ledger, "203.0.113.9", "bob@example.com", f"{PASSWORD} bob") == "throttled"
    assert attempt_from(ledger, "198.51.100.7", "bob@example.com", f"{PASSWORD} bob") == "ok"
    clock.now += WINDOW
    assert attempt_from(ledger, "203.0.113.9", "bob@example.com", f"{PASSWORD} bob") == "ok"


def test_a_distributed_attack_on_one_account_slows_every_client(book) -> None:
    ledger, clock = book
    for n in range(ACCOUNT_MAX_FAILURES):
        attempt_from(ledger, f"10.0.{n // 250}.{n % 250}", "carol@example.com", "guess")
        clock.now += timedelta(seconds=1)
    assert attempt_from(ledger, "carol-home", "carol@example.com", f"{PASSWORD} carol") == "locked"
    clock.now += MAX_DELAY
    assert attempt_from(ledger, "carol-home", "carol@example.com", f"{PASSWORD} carol") == "ok"


def test_failed_attempts_are_pruned_so_unknown_emails_do_not_pile_up(book) -> None:
    ledger, clock = book
    for n in range(200):
        attempt_from(ledger, f"client-{n}", f"nobody{n}@example.com", "guess")
        clock.now += timedelta(seconds=30)  # 100 minutes of guessing
    with ledger.db.reading() as cur:
        kept = cur.execute("SELECT count(*) FROM sign_in_attempts WHERE NOT succeeded").fetchone()[0]
    assert kept <= WINDOW // timedelta(seconds=30) + 1


def test_unknown_emails_lock_the_same_way_and_say_the_same(book) -> None:
    ledger, _ = book
    messages = {}
    for email in ("alice@example.com", "nobody@example.com"):
        for _ in range(MAX_FAILURES):
            with pytest.raises(AuthenticationFailed) as failed:
                ledger.authenticate(email, "wrong")
            messages.setdefault(("failed", str(failed.value)), set()).add(email)
        with pytest.raises(AccountLocked) as locked:
            ledger.authenticate(email, "anything")
        messages.setdefault(("locked", str(locked.value)), set()).add(email)
    # one message per outcome, whether the account exists or not
    assert sorted(k[0] for k in messages) == ["failed", "locked"], messages


def test_the_lockout_ends_with_its_window_and_failures_do_not_pile_up(book) -> None:
    ledger, clock = book
    for _ in range(MAX_FAILURES):
        attempt(ledger, "carol@example.com", "wrong")
    assert attempt(ledger, "carol@example.com", f"{PASSWORD} carol") == "locked"
    for _ in range(20):  # hammering while locked does not extend the lock
        assert attempt(ledger, "carol@example.com", "wrong") == "locked"
    clock.now += timedelta(minutes=16)
    assert attempt(ledger, "carol@example.com", f"{PASSWORD} carol") == "ok"


HOSTILE_EMAILS = [
    None,
    5,
    b"alice@example.com",
    "",
    "x" * 10_240,
    "' OR '1'='1' --",
    "alice@example.com\x00",
    "alice@example.com' --",
    "<script>@example.com",
    "\u202ealice@example.com",
]


def test_hostile_sign_in_input_gets_the_neutral_message(book) -> None:
    ledger, clock = book
    for email in HOSTILE_EMAILS:
        clock.now += timedelta(hours=1)  # (None, 5 and b"..." all count against the email "")
        for password in (None, "x" * 100_000, f"{PASSWORD} alice' OR '1'='1"):
            with pytest.raises(AuthenticationFailed) as failed:
                ledger.authenticate(email, password)  # type: ignore[arg-type]
            assert str(failed.value) == "That email and password do not match an account.", email


def test_the_hash_and_the_password_are_never_shown_or_logged(book, caplog) -> None:
    ledger, _ = book
    secret = "a secret nobody else knows"
    caplog.set_level(logging.DEBUG)
    user = ledger.add_user("erin@example.com", "Erin", password=secret)
    ledger.authenticate("erin@example.com", secret)
    with pytest.raises(AuthenticationFailed) as wrong:
        ledger.authenticate("erin@example.com", secret + "!")
    with pytest.raises(billing_core.InvalidInput) as short:
        ledger.add_user("finn@example.com", "Finn", password="sh0rt")
    with pytest.raises(billing_core.InvalidInput) as taken:
        ledger.add_user("erin@example.com", "Erin again", password=secret)
    stored = rows(ledger, "SELECT password_hash FROM users WHERE email = 'erin@example.com'")[0][0]
    assert stored.startswith("$argon2")
    admin = ledger.add_user("root@example.com", "Root", admin=True)
    shown = [
        repr(user),
        repr(dataclasses.asdict(user)),
        repr(ledger.authenticate("erin@example.com", secret)),
        repr(ledger.user_by_email("erin@example.com")),
        repr(ledger.users(admin)),
        repr(ledger.audit_trail(admin)),
        str(wrong.value),
        str(short.value),
        str(taken.value),
        repr(rows(ledger, "SELECT * FROM audit_log")),
        repr(rows(ledger, "SELECT * FROM sign_in_attempts")),
        caplog.text,
    ]
    for text in shown:
        assert secret not in text and stored not in text and "$argon2" not in text
        assert "sh0rt" not in text


def test_unknown_emails_cost_as_much_time_as_wrong_passwords(book) -> None:
    """No timing oracle for which emails have accounts (the dummy hash in passwords.py)."""
    ledger, clock = book

    def fastest(email: str) -> float:
        times = []
        for _ in range(4):
            clock.now += timedelta(hours=1)  # stay clear of the lockout
            start = time.perf_counter()
            attempt(ledger, email, "wrong password")
            times.append(time.perf_counter() - start)
        return min(times)

    known, unknown = fastest("dave@example.com"), fastest("nobody@example.com")
    assert 1 / 3 < unknown / known < 3, (known, unknown)


def test_many_people_signing_in_at_once_each_get_themselves(book) -> None:
    ledger, _ = book
    names = ["alice", "bob", "carol", "dave"]

    def sign_in(n: int, barrier: threading.Barrier) -> list[str]:
        barrier.wait()
        wrong = []
        for i in range(2):
            name = names[(n + i) % len(names)]
            user = ledger.authenticate(f"{name}@example.com", f"{PASSWORD} {name}")
            if user.email != f"{name}@example.com":
                wrong.append(f"{name} got {user.email}")
        return wrong

    assert not [w for ws in in_threads(4, sign_in) for w in ws]  # type: ignore[union-attr]
