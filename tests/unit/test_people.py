"""People, as administrators manage them (issue 11): invitations with one-time links,
deactivation, administrators (never none left), password resets. Both stores."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from billing_core import (
    AuthenticationFailed,
    InvalidInput,
    Ledger,
    LinkPurpose,
    NotFound,
    PermissionDenied,
)
from billing_core.links import link_url
from billing_core.settings import Mail, Settings
from tests.hardening.books import audit_problems, rows


def move(ledger: Ledger, **delta: float) -> None:
    ledger.db.clock.now += timedelta(**delta)  # type: ignore[attr-defined]


def test_an_invited_person_sets_a_password_with_the_link_and_signs_in(ledger: Ledger, people: dict) -> None:
    admin = people["admin"]
    invitation = ledger.invite_user(admin, " Dora@Example.com ", "Dora Dev", base_url="https://billing.example.com/")
    dora, link = invitation.user, invitation.link
    assert link is not None and dora.email == "dora@example.com" and not dora.is_admin
    assert link.purpose is LinkPurpose.INVITE and link.expires_at - ledger.now() == timedelta(days=7)
    assert link.url == f"https://billing.example.com/set-password?link={link.token}"
    assert not link.emailed
    info = ledger.password_link_info(link.token)
    assert (info.user_name, info.email, info.purpose) == ("Dora Dev", "dora@example.com", LinkPurpose.INVITE)
    with pytest.raises(AuthenticationFailed):  # no password yet
        ledger.authenticate("dora@example.com", "")
    ledger.set_password_with_link(link.token, "correct horse battery")
    assert ledger.authenticate("dora@example.com", "correct horse battery") == dora
    with pytest.raises(InvalidInput, match="cannot be used"):  # once only
        ledger.set_password_with_link(link.token, "another password")
    with pytest.raises(InvalidInput, match="cannot be used"):
        ledger.password_link_info(link.token)
    assert ledger.authenticate("dora@example.com", "correct horse battery") == dora
    assert link.token not in str(rows(ledger, "SELECT * FROM password_links"))
    assert not audit_problems(ledger)


def test_a_link_expires_after_seven_days_and_a_newer_one_replaces_it(ledger: Ledger, people: dict) -> None:
    admin = people["admin"]
    first = ledger.invite_user(admin, "dora@example.com", "Dora").link
    assert first is not None
    move(ledger, days=7)
    with pytest.raises(InvalidInput, match="cannot be used"):
        ledger.set_password_with_link(first.token, "correct horse battery")
    second = ledger.reset_link(admin, first.user.id)
    third = ledger.reset_link(admin, first.user.id)
    with pytest.raises(InvalidInput, match="cannot be used"):
        ledger.set_password_with_link(second.token, "correct horse battery")
    ledger.set_password_with_link(third.token, "correct horse battery")
    for forged in ("", "1." + "A" * 43, third.token + "x", None, second.token.split(".")[1]):
        with pytest.raises(InvalidInput, match="cannot be used"):
            ledger.set_password_with_link(forged, "correct horse battery")


def test_a_short_password_is_refused_and_the_link_stays_usable(ledger: Ledger, people: dict) -> None:
    link = ledger.invite_user(people["admin"], "dora@example.com", "Dora").link
    assert link is not None
    with pytest.raises(InvalidInput, match="8 to"):
        ledger.set_password_with_link(link.token, "short")
    ledger.set_password_with_link(link.token, "long enough now")


def test_single_sign_on_people_get_no_link_and_no_password(ledger: Ledger, people: dict) -> None:
    invitation = ledger.invite_user(people["admin"], "sam@example.com", "Sam", sso_only=True)
    assert invitation.link is None
    assert ledger.user_for_sso("sam@example.com") == invitation.user
    with pytest.raises(InvalidInput, match="single sign-on"):
        ledger.reset_link(people["admin"], invitation.user.id)
    person = next(p for p in ledger.people(people["admin"]) if p.user.email == "sam@example.com")
    assert person.sso_only and not person.has_password and person.invited_until is None


def test_invite_refuses_bad_input_and_changes_nothing(ledger: Ledger, people: dict) -> None:
    admin = people["admin"]
    before = rows(ledger, "SELECT count(*) FROM users")
    for email, name, message in [
        ("alice@example.com", "Alice again", "already exists"),
        ("not an email", "X", "not an email"),
        ("x@example.com", "Evil\u202eexe.txt", "text-direction"),
        ("x@example.com", "  ", "Enter a name"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            ledger.invite_user(admin, email, name)
    assert rows(ledger, "SELECT count(*) FROM users") == before
    assert rows(ledger, "SELECT count(*) FROM password_links")[0][0] == 0


def test_members_can_do_none_of_the_people_operations(ledger: Ledger, people: dict) -> None:
    alice, bob = people["alice"], people["bob"]
    before = rows(ledger, "SELECT count(*), sum(CASE WHEN is_admin THEN 1 ELSE 0 END) FROM users")
    for call in (
        lambda: ledger.invite_user(alice, "x@example.com", "X"),
        lambda: ledger.deactivate_user(alice, bob.id),
        lambda: ledger.reactivate_user(alice, bob.id),
        lambda: ledger.promote_admin(alice, alice.id),
        lambda: ledger.demote_admin(alice, people["admin"].id),
        lambda: ledger.reset_link(alice, bob.id),
        lambda: ledger.people(alice),
        lambda: ledger.person_workspaces(alice, bob.id),
    ):
        with pytest.raises(PermissionDenied):
            call()
    assert rows(ledger, "SELECT count(*), sum(CASE WHEN is_admin THEN 1 ELSE 0 END) FROM users") == before
    assert [w.name for w in ledger.person_workspaces(alice, alice.id)] == ["Acme"]  # one's own


def test_the_last_active_admin_cannot_be_demoted_or_deactivated(ledger: Ledger, people: dict) -> None:
    ada, grace = people["admin"], people["admin2"]
    ledger.demote_admin(ada, grace.id)
    with pytest.raises(InvalidInput, match="last active administrator"):
        ledger.demote_admin(ada, ada.id)
    with pytest.raises(InvalidInput, match="yourself"):
        ledger.deactivate_user(ada, ada.id)
    ledger.promote_admin(ada, grace.id)
    ledger.deactivate_user(grace, ada.id)
    with pytest.raises(PermissionDenied, match="deactivated"):  # a deactivated admin cannot act
        ledger.promote_admin(ada, people["alice"].id)
    with pytest.raises(InvalidInput, match="last active administrator"):
        ledger.demote_admin(grace, grace.id)
    assert ledger.has_admin()
    ledger.reactivate_user(grace, ada.id)
    ledger.demote_admin(ada, ada.id)  # now there is another
    assert [p.user.email for p in ledger.people(grace) if p.user.is_admin] == ["grace@example.com"]


def test_two_admins_demoting_each_other_at_once_leave_one(new_ledger) -> None:
    ledger = new_ledger()
    ada = ledger.add_user("ada@example.com", "Ada", admin=True)
    grace = ledger.add_user("grace@example.com", "Grace", admin=True)
    outcomes: list[object] = []
    barrier = threading.Barrier(2)

    def demote(actor, target) -> None:
        barrier.wait()
        try:
            outcomes.append(ledger.demote_admin(actor, target.id))
        except Exception as error:  # noqa: BLE001 - collected
            outcomes.append(error)

    threads = [threading.Thread(target=demote, args=pair) for pair in ((ada, grace), (grace, ada))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert ledger.has_admin()
    admins = rows(ledger, "SELECT count(*) FROM users WHERE is_admin AND id <> 0")[0][0]
    assert admins == 1, outcomes
    assert sum(isinstance(o, Exception) for o in outcomes) == 1


def test_deactivated_people_stay_in_the_books_and_can_be_reactivated(ledger: Ledger, people: dict) -> None:
    admin, alice, acme = people["admin"], people["alice"], people["acme"].id
    ledger.grant_credits(admin, acme, "10", description="funding")
    ledger.consume(alice, acme, "1", feature="AI", description="before")
    gone = ledger.deactivate_user(admin, alice.id)
    assert not gone.active
    with pytest.raises(PermissionDenied, match="deactivated"):
        ledger.consume(alice, acme, "1", feature="AI", description="after")
    with pytest.raises(InvalidInput, match="already deactivated"):
        ledger.deactivate_user(admin, alice.id)
    assert [u.name for u in ledger.members(admin, acme)] == ["Alice", "Carol"]  # still a member
    listed = {p.user.email: p for p in ledger.people(admin)}
    assert not listed["alice@example.com"].user.active
    assert listed["alice@example.com"].workspace_ids == (acme,)
    ledger.reactivate_user(admin, alice.id)
    ledger.consume(alice, acme, "1", feature="AI", description="back")
    with pytest.raises(NotFound):
        ledger.deactivate_user(admin, 0)  # the system account is nobody's to change
    with pytest.raises(NotFound):
        ledger.deactivate_user(admin, 999)
    assert not audit_problems(ledger)


def test_every_people_change_is_audited_with_before_and_after(ledger: Ledger, people: dict) -> None:
    admin, bob = people["admin"], people["bob"]
    invited = ledger.invite_user(admin, "dora@example.com", "Dora").user
    ledger.promote_admin(admin, bob.id)
    ledger.demote_admin(admin, bob.id)
    ledger.deactivate_user(admin, bob.id)
    ledger.reactivate_user(admin, bob.id)
    ledger.reset_link(admin, bob.id)
    found = rows(
        ledger,
        "SELECT actor_id, action, subject, before, after FROM audit_log "
        "WHERE action LIKE 'user.%' AND actor_id = ? ORDER BY id",
        [admin.id],
    )
    assert [(a, s) for _, a, s, _, _ in found] == [
        ("user.add", f"user:{invited.id}"),
        ("user.password_link", f"user:{invited.id}"),
        ("user.promote", f"user:{bob.id}"),
        ("user.demote", f"user:{bob.id}"),
        ("user.deactivate", f"user:{bob.id}"),
        ("user.reactivate", f"user:{bob.id}"),
        ("user.password_link", f"user:{bob.id}"),
    ]
    assert found[2][3:] == ('{"admin": false}', '{"admin": true}')
    assert found[4][3:] == ('{"active": true}', '{"active": false, "sessions_ended": 0}')
    assert not audit_problems(ledger)


def test_links_are_emailed_when_a_mail_server_is_configured(new_ledger, monkeypatch) -> None:
    import smtplib

    sent: list[object] = []

    class FakeSMTP:
        def __init__(self, host: str, port: int, timeout: float) -> None:
            sent.append((host, port))

        def __enter__(self) -> FakeSMTP:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def send_message(self, message) -> None:
            sent.append(message)

    monkeypatch.setattr(smtplib, "SMTP", FakeSMTP)
    settings = Settings(app_url="https://billing.example.com", mail=Mail(host="mail.example.com"))
    ledger = new_ledger(settings=settings)
    admin = ledger.add_user("ada@example.com", "Ada", admin=True)
    link = ledger.invite_user(admin, "dora@example.com", "Dora").link
    assert link is not None and link.emailed
    assert sent[0] == ("mail.example.com", 25)
    message = sent[1]
    assert message["To"] == "dora@example.com"  # type: ignore[index]
    assert link_url("https://billing.example.com", link.token) in message.get_content()  # type: ignore[attr-defined]

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("connection refused")

    monkeypatch.setattr(smtplib, "SMTP", refuse)
    again = ledger.reset_link(admin, link.user.id)
    assert not again.emailed and again.url  # still handed back to pass on by hand
