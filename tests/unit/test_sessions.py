"""Signed-in sessions (issue 11): a hashed 256-bit token per browser, ended by signing out,
by time (12 h, or 30 min unused), by deactivation or a password reset; forged tokens get
nothing. Runs on both stores."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from billing_core import (
    AuthenticationFailed,
    InvalidInput,
    Ledger,
    NotFound,
    PermissionDenied,
    SessionEnded,
    User,
)
from billing_core.settings import Settings
from tests.hardening.books import rows

ENDED = "Your session has ended, sign in again."


def move(ledger: Ledger, **delta: float) -> None:
    ledger.db.clock.now += timedelta(**delta)  # type: ignore[attr-defined]  # the tests' FakeClock


def test_a_token_signs_its_person_in_and_only_its_hash_is_stored(ledger: Ledger, people: dict) -> None:
    alice = people["alice"]
    started = ledger.start_session(alice, client="203.0.113.7", user_agent="Firefox/140")
    session_id, secret = started.token.split(".")
    assert int(session_id) == started.id and len(secret) == 43  # 256 bits, URL-safe base64
    assert ledger.session_user(started.token) == alice
    stored = rows(ledger, "SELECT token_hash, client, user_agent, expires_at, last_seen_at FROM sessions")
    assert len(stored) == 1
    token_hash, client, agent, expires, seen = stored[0]
    assert token_hash == hashlib.sha256(secret.encode()).hexdigest()
    dump = str(rows(ledger, "SELECT * FROM sessions")) + str(rows(ledger, "SELECT * FROM audit_log"))
    assert secret not in dump and started.token not in dump
    assert (client, agent) == ("203.0.113.7", "Firefox/140")
    assert expires - seen == timedelta(hours=12)
    second = ledger.start_session(alice)
    assert second.token != started.token and ledger.session_user(second.token) == alice


@pytest.mark.parametrize(
    "forge",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # one character of the secret changed
        lambda t: str(int(t.split(".")[0]) + 1) + "." + t.split(".")[1],  # another session's id
        lambda t: t.split(".")[1],  # the secret alone
        lambda t: "1." + "A" * 43,
        lambda t: "",
        lambda t: None,
        lambda t: 12,
        lambda t: t + "\x00",
        lambda t: t + "x",
        lambda t: hashlib.sha256(t.split(".")[1].encode()).hexdigest(),  # the stored hash itself
    ],
)
def test_a_forged_or_altered_token_gets_nothing(ledger: Ledger, people: dict, forge) -> None:
    real = ledger.start_session(people["admin"])
    ledger.start_session(people["alice"])
    with pytest.raises(SessionEnded, match=ENDED):
        ledger.session_user(forge(real.token))
    assert ledger.session_user(real.token) == people["admin"]  # the real one is untouched


def test_a_forged_user_cannot_start_a_session(ledger: Ledger, people: dict) -> None:
    ghost = User(id=999, email="ghost@example.com", name="Ghost", is_admin=True)
    with pytest.raises(PermissionDenied):
        ledger.start_session(ghost)
    with pytest.raises(InvalidInput):
        ledger.start_session(ledger.system_user())
    assert rows(ledger, "SELECT count(*) FROM sessions")[0][0] == 0


def test_a_session_unused_for_30_minutes_ends(ledger: Ledger, people: dict) -> None:
    token = ledger.start_session(people["alice"]).token
    move(ledger, minutes=29, seconds=59)
    assert ledger.session_user(token) == people["alice"]  # used: the idle time starts again
    move(ledger, minutes=29, seconds=59)
    assert ledger.session_user(token) == people["alice"]
    move(ledger, minutes=30)
    with pytest.raises(SessionEnded, match=ENDED):
        ledger.session_user(token)
    move(ledger, seconds=-3600)  # even if the clock went back, an ended session stays ended
    with pytest.raises(SessionEnded):
        ledger.session_user(token)
    assert rows(ledger, "SELECT end_reason FROM sessions") == [("idle",)]


def test_a_session_ends_12_hours_after_sign_in_however_busy(ledger: Ledger, people: dict) -> None:
    token = ledger.start_session(people["alice"]).token
    for _ in range(12 * 4 - 1):
        move(ledger, minutes=15)
        ledger.session_user(token)
    move(ledger, minutes=14, seconds=59)
    assert ledger.session_user(token) == people["alice"]
    move(ledger, seconds=1)
    with pytest.raises(SessionEnded, match=ENDED):
        ledger.session_user(token)
    assert rows(ledger, "SELECT end_reason FROM sessions") == [("expired",)]


def test_the_lifetimes_are_configurable(new_ledger) -> None:
    settings = Settings.from_env({"BILLING_SESSION_HOURS": "1", "BILLING_SESSION_IDLE_MINUTES": "5"})
    assert settings.session_lifetime == timedelta(hours=1)
    assert settings.session_idle == timedelta(minutes=5)
    ledger = new_ledger(settings=settings)
    alice = ledger.add_user("alice@example.com", "Alice")
    token = ledger.start_session(alice).token
    move(ledger, minutes=4)
    ledger.session_user(token)
    move(ledger, minutes=5)
    with pytest.raises(SessionEnded):
        ledger.session_user(token)
    long_day = ledger.start_session(alice).token
    for _ in range(14):
        move(ledger, minutes=4)
        ledger.session_user(long_day)
    move(ledger, minutes=4)
    with pytest.raises(SessionEnded):  # 60 minutes after it started, in use all along
        ledger.session_user(long_day)
    with pytest.raises(InvalidInput, match="BILLING_SESSION_HOURS"):
        Settings.from_env({"BILLING_SESSION_HOURS": "twelve"})


def test_last_use_is_written_at_most_once_a_minute(ledger: Ledger, people: dict) -> None:
    token = ledger.start_session(people["alice"]).token
    start = rows(ledger, "SELECT last_seen_at FROM sessions")[0][0]
    move(ledger, seconds=59)
    ledger.session_user(token)
    assert rows(ledger, "SELECT last_seen_at FROM sessions")[0][0] == start
    move(ledger, seconds=1)
    ledger.session_user(token)
    assert rows(ledger, "SELECT last_seen_at FROM sessions")[0][0] == start + timedelta(seconds=60)


def test_signing_out_ends_the_session_wherever_its_cookie_is(ledger: Ledger, people: dict) -> None:
    token = ledger.start_session(people["alice"]).token
    other = ledger.start_session(people["alice"]).token  # another browser of hers
    ledger.session_user(token)  # a second tab holds the same token
    ledger.end_session(token)
    with pytest.raises(SessionEnded, match=ENDED):
        ledger.session_user(token)  # the other tab, on its next run
    assert ledger.session_user(other) == people["alice"]
    ledger.end_session(token)  # twice, or a forged one: nothing happens
    ledger.end_session("1." + "A" * 43)
    assert rows(ledger, "SELECT count(*) FROM audit_log WHERE action = 'session.end'")[0][0] == 1


def test_sign_out_everywhere_ends_every_session_of_that_person_only(ledger: Ledger, people: dict) -> None:
    mine = [ledger.start_session(people["alice"]).token for _ in range(3)]
    theirs = ledger.start_session(people["bob"]).token
    assert ledger.end_all_sessions(people["alice"]) == 3
    for token in mine:
        with pytest.raises(SessionEnded):
            ledger.session_user(token)
    assert ledger.session_user(theirs) == people["bob"]
    assert ledger.sessions(people["alice"]) == []


def test_where_you_are_signed_in_lists_your_open_sessions_and_ends_any(ledger: Ledger, people: dict) -> None:
    alice, bob, admin = people["alice"], people["bob"], people["admin"]
    first = ledger.start_session(alice, client="198.51.100.1", user_agent="Safari")
    move(ledger, minutes=5)
    second = ledger.start_session(alice, client="198.51.100.2", user_agent="Chrome")
    bobs = ledger.start_session(bob)
    listed = ledger.sessions(alice)
    assert [s.id for s in listed] == [second.id, first.id]  # the most recently used first
    assert [(s.client, s.user_agent) for s in listed] == [
        ("198.51.100.2", "Chrome"), ("198.51.100.1", "Safari")
    ]
    ledger.end_session_by_id(alice, first.id)
    assert [s.id for s in ledger.sessions(alice)] == [second.id]
    with pytest.raises(NotFound):
        ledger.end_session_by_id(alice, first.id)  # already ended
    with pytest.raises(PermissionDenied):
        ledger.end_session_by_id(alice, bobs.id)  # a member ends only their own
    with pytest.raises(PermissionDenied):
        ledger.sessions(alice, user_id=bob.id)
    with pytest.raises(PermissionDenied):
        ledger.end_all_sessions(alice, user_id=bob.id)
    assert ledger.session_user(bobs.token) == bob
    assert [s.id for s in ledger.sessions(admin, user_id=bob.id)] == [bobs.id]  # admins see anyone's
    ledger.end_session_by_id(admin, bobs.id)
    with pytest.raises(SessionEnded):
        ledger.session_user(bobs.token)
    assert ledger.end_all_sessions(admin, user_id=alice.id) == 1


def test_deactivation_ends_their_sessions_at_once_and_they_cannot_sign_in(
    ledger: Ledger, people: dict
) -> None:
    carol = ledger.add_user("dora@example.com", "Dora", password="correct horse")
    token = ledger.start_session(ledger.authenticate("dora@example.com", "correct horse")).token
    ledger.deactivate_user(people["admin"], carol.id)
    with pytest.raises(SessionEnded):
        ledger.session_user(token)
    with pytest.raises(AuthenticationFailed, match="deactivated"):
        ledger.authenticate("dora@example.com", "correct horse")
    with pytest.raises(AuthenticationFailed, match="do not match"):  # a wrong password learns nothing
        ledger.authenticate("dora@example.com", "wrong password")
    with pytest.raises(AuthenticationFailed, match="deactivated"):
        ledger.user_for_sso("dora@example.com")
    with pytest.raises(PermissionDenied, match="deactivated"):
        ledger.start_session(carol)
    ledger.reactivate_user(people["admin"], carol.id)
    assert ledger.session_user(ledger.start_session(carol).token) == carol


def test_an_admin_reset_ends_their_sessions_and_the_old_password(ledger: Ledger, people: dict) -> None:
    dora = ledger.add_user("dora@example.com", "Dora", password="correct horse")
    token = ledger.start_session(dora).token
    link = ledger.reset_link(people["admin"], dora.id)
    with pytest.raises(SessionEnded):
        ledger.session_user(token)
    with pytest.raises(AuthenticationFailed):
        ledger.authenticate("dora@example.com", "correct horse")
    ledger.set_password_with_link(link.token, "battery staple")
    assert ledger.authenticate("dora@example.com", "battery staple") == dora


def test_changing_ones_password_ends_the_other_sessions(ledger: Ledger, people: dict) -> None:
    dora = ledger.add_user("dora@example.com", "Dora", password="correct horse")
    here = ledger.start_session(dora)
    elsewhere = ledger.start_session(dora).token
    with pytest.raises(AuthenticationFailed, match="current password"):
        ledger.change_password(dora, "wrong", "battery staple", keep_session=here.id)
    assert ledger.change_password(dora, "correct horse", "battery staple", keep_session=here.id) == 1
    assert ledger.session_user(here.token) == dora
    with pytest.raises(SessionEnded):
        ledger.session_user(elsewhere)
    assert ledger.authenticate("dora@example.com", "battery staple") == dora


def test_every_start_and_end_is_audited(ledger: Ledger, people: dict) -> None:
    alice = people["alice"]
    token = ledger.start_session(alice, client="192.0.2.1").token
    ledger.end_session(token)
    audit = rows(
        ledger, "SELECT actor_id, action, subject FROM audit_log WHERE action LIKE 'session.%' ORDER BY id"
    )
    session_id = int(token.split(".")[0])
    assert audit == [
        (alice.id, "session.start", f"session:{session_id}"),
        (alice.id, "session.end", f"session:{session_id}"),
    ]
