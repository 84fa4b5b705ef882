"""Issue 4, item 9 (ledger level): every public Ledger operation against every kind of caller.

tests/unit/test_access.py has 17 operations x {member, outsider, admin, nobody}. This one
covers every public method (a new one fails `test_every_public_operation_is_classified`
until it is put in the table), adds four kinds of forged caller (a member's User with
is_admin=True, an unknown user, an admin's id with a member's email, a bare email
string), and checks what the allowed list operations return: a member's lists,
totals and charts hold their own workspaces and nothing else.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest

from billing_core import (
    ConsolidatedWallet,
    CreditRequest,
    Ledger,
    Notification,
    PermissionDenied,
    User,
    WalletSummary,
    Workspace,
)
from tests.hardening.books import counts, rows

_BACKUPS = tempfile.TemporaryDirectory(prefix="access-backups-")  # removed when the run ends
MEMBER_OPS = {"member", "admin"}
ADMIN_OPS = {"admin"}
SIGNED_IN = {"member", "outsider", "admin"}


@dataclass(frozen=True)
class Op:
    call: Callable[[Ledger, Any, dict[str, Any]], object]
    allowed: set[str]
    scoped: bool = False  # a list: check it holds only the caller's workspaces
    needs: tuple[str, ...] = ()  # context values set up before a refused call (so it writes nothing)


def _wrong_password(lg: Ledger, a: Any) -> object:
    """change_password with a wrong current password: allowed callers get that refusal."""
    from billing_core import AuthenticationFailed

    try:
        return lg.change_password(a, "not the password", "a new password")
    except AuthenticationFailed as error:
        if "current password" not in str(error):
            raise
        return None


def _d(ledger: Ledger) -> tuple[date, date]:
    return ledger.today() - timedelta(days=30), ledger.today()


OPERATIONS: dict[str, Op] = {
    "wallet": Op(lambda lg, a, c: lg.wallet(a, c["acme"]), MEMBER_OPS),
    "workspace": Op(lambda lg, a, c: lg.workspace(a, c["acme"]), MEMBER_OPS),
    "find_workspace": Op(lambda lg, a, c: lg.find_workspace(a, "Acme"), MEMBER_OPS),
    "members": Op(lambda lg, a, c: lg.members(a, c["acme"]), MEMBER_OPS),
    "history": Op(lambda lg, a, c: lg.history(a, c["acme"], search="use"), MEMBER_OPS),
    "history_frames": Op(lambda lg, a, c: list(lg.history_frames(a, c["acme"], search="use")), MEMBER_OPS),
    "consume": Op(lambda lg, a, c: lg.consume(a, c["acme"], "1", feature="AI", description="x"), MEMBER_OPS),
    "request_credits": Op(lambda lg, a, c: lg.request_credits(a, c["acme"], "5"), MEMBER_OPS),
    "credit_request": Op(lambda lg, a, c: lg.credit_request(a, c["request"]()), MEMBER_OPS),
    "cancel_request": Op(lambda lg, a, c: lg.cancel_request(a, c["request"]()), MEMBER_OPS),
    "requests_of_acme": Op(lambda lg, a, c: lg.requests(a, workspace_id=c["acme"]), MEMBER_OPS),
    "burn_rate": Op(lambda lg, a, c: lg.burn_rate(a, c["acme"]), MEMBER_OPS),
    "balance_over_time": Op(lambda lg, a, c: lg.balance_over_time(a, c["acme"], *_d(lg)), MEMBER_OPS),
    "spend_by_feature_of_acme": Op(
        lambda lg, a, c: lg.spend_by_feature(a, *_d(lg), workspace_id=c["acme"]), MEMBER_OPS
    ),
    "credits_vs_debits_of_acme": Op(
        lambda lg, a, c: lg.credits_vs_debits(a, *_d(lg), workspace_id=c["acme"]), MEMBER_OPS
    ),
    "top_consumers_of_acme": Op(
        lambda lg, a, c: lg.top_consumers(a, *_d(lg), workspace_id=c["acme"]), MEMBER_OPS
    ),
    "approve_request": Op(lambda lg, a, c: lg.approve_request(a, c["request"]()), ADMIN_OPS),
    "reject_request": Op(lambda lg, a, c: lg.reject_request(a, c["request"](), "no"), ADMIN_OPS),
    "set_wallet_status": Op(lambda lg, a, c: lg.set_wallet_status(a, c["acme"], "inactive"), ADMIN_OPS),
    "grant_credits": Op(lambda lg, a, c: lg.grant_credits(a, c["acme"], "1", description="x"), ADMIN_OPS),
    "grants": Op(lambda lg, a, c: lg.grants(a, c["acme"], include_spent=True), MEMBER_OPS),
    "draws": Op(lambda lg, a, c: lg.draws(a, c["debit"]), MEMBER_OPS),
    "grant_draws": Op(lambda lg, a, c: lg.grant_draws(a, c["grant"]), MEMBER_OPS),
    "expiry_forecast": Op(lambda lg, a, c: lg.expiry_forecast(a, c["acme"]), MEMBER_OPS),
    "credit_policy": Op(lambda lg, a, c: lg.credit_policy(a, c["acme"]), MEMBER_OPS),
    "set_credit_policy": Op(
        lambda lg, a, c: lg.set_credit_policy(a, c["acme"], approve_up_to="5", approve_per_month="10"),
        ADMIN_OPS,
    ),
    "users": Op(lambda lg, a, c: lg.users(a), ADMIN_OPS),
    "audit_trail": Op(lambda lg, a, c: lg.audit_trail(a), ADMIN_OPS),
    "audit_trail_of_acme": Op(lambda lg, a, c: lg.audit_trail(a, workspace_id=c["acme"]), ADMIN_OPS),
    "backup_now": Op(lambda lg, a, c: lg.backup_now(a, to=tempfile.mkdtemp(dir=_BACKUPS.name)), ADMIN_OPS),
    "backup_overview": Op(lambda lg, a, c: lg.backup_overview(a), ADMIN_OPS),
    "export_archive": Op(lambda lg, a, c: lg.export_archive(a), ADMIN_OPS),
    # lists every signed-in user may ask for, holding only what they may see
    "wallets": Op(lambda lg, a, c: lg.wallets(a), SIGNED_IN, scoped=True),
    "workspaces": Op(lambda lg, a, c: lg.workspaces(a), SIGNED_IN, scoped=True),
    "consolidated_wallet": Op(lambda lg, a, c: lg.consolidated_wallet(a), SIGNED_IN, scoped=True),
    "requests": Op(lambda lg, a, c: lg.requests(a), SIGNED_IN, scoped=True),
    "spend_by_feature": Op(lambda lg, a, c: lg.spend_by_feature(a, *_d(lg)), SIGNED_IN, scoped=True),
    "spend_by_workspace": Op(lambda lg, a, c: lg.spend_by_workspace(a, *_d(lg)), SIGNED_IN, scoped=True),
    "credits_vs_debits": Op(lambda lg, a, c: lg.credits_vs_debits(a, *_d(lg)), SIGNED_IN, scoped=True),
    "top_consumers": Op(lambda lg, a, c: lg.top_consumers(a, *_d(lg)), SIGNED_IN, scoped=True),
    "wallet_overview": Op(lambda lg, a, c: lg.wallet_overview(a), SIGNED_IN, scoped=True),
    # issue 11: sessions, people, workspaces, grants, corrections, the audit log
    "transaction": Op(lambda lg, a, c: lg.transaction(a, c["entry"]()), MEMBER_OPS, needs=("entry",)),
    "sessions": Op(lambda lg, a, c: lg.sessions(a), SIGNED_IN),
    "end_all_sessions": Op(lambda lg, a, c: lg.end_all_sessions(a), SIGNED_IN),
    "change_password": Op(lambda lg, a, c: _wrong_password(lg, a), SIGNED_IN),
    "end_session_by_id": Op(  # Alice's own session: she and admins may end it
        lambda lg, a, c: lg.end_session_by_id(a, c["session"]()), MEMBER_OPS, needs=("session",)
    ),
    "sessions_of_carol": Op(lambda lg, a, c: lg.sessions(a, user_id=c["carol"]), ADMIN_OPS),
    "end_all_sessions_of_carol": Op(lambda lg, a, c: lg.end_all_sessions(a, user_id=c["carol"]), ADMIN_OPS),
    "people": Op(lambda lg, a, c: lg.people(a), ADMIN_OPS),
    "person_workspaces": Op(lambda lg, a, c: lg.person_workspaces(a, c["carol"]), ADMIN_OPS),
    "invite_user": Op(lambda lg, a, c: lg.invite_user(a, c["email"](), "New person"), ADMIN_OPS),
    "deactivate_user": Op(lambda lg, a, c: lg.deactivate_user(a, c["person"]()), ADMIN_OPS,
                          needs=("person",)),
    "reactivate_user": Op(lambda lg, a, c: lg.reactivate_user(a, c["gone"]()), ADMIN_OPS, needs=("gone",)),
    "promote_admin": Op(lambda lg, a, c: lg.promote_admin(a, c["person"]()), ADMIN_OPS, needs=("person",)),
    "demote_admin": Op(lambda lg, a, c: lg.demote_admin(a, c["extra_admin"]()), ADMIN_OPS,
                       needs=("extra_admin",)),
    "reset_link": Op(lambda lg, a, c: lg.reset_link(a, c["person"]()), ADMIN_OPS, needs=("person",)),
    "add_workspace": Op(lambda lg, a, c: lg.add_workspace(a, c["space_name"]()), ADMIN_OPS),
    "rename_workspace": Op(lambda lg, a, c: lg.rename_workspace(a, c["scratch"](), c["space_name"]()),
                           ADMIN_OPS, needs=("scratch",)),
    "archive_workspace": Op(lambda lg, a, c: lg.archive_workspace(a, c["scratch"]()), ADMIN_OPS,
                            needs=("scratch",)),
    "add_workspace_member": Op(lambda lg, a, c: lg.add_workspace_member(a, c["acme"], c["person"]()),
                               ADMIN_OPS, needs=("person",)),
    "remove_workspace_member": Op(lambda lg, a, c: lg.remove_workspace_member(a, c["acme"], c["joined"]()),
                                  ADMIN_OPS, needs=("joined",)),
    "grant": Op(lambda lg, a, c: lg.grant(a, c["acme"], "1", reason="x"), ADMIN_OPS),
    "correct_entry": Op(lambda lg, a, c: lg.correct_entry(a, c["entry"](), reason="x"), ADMIN_OPS,
                        needs=("entry",)),
    "audit_events": Op(lambda lg, a, c: lg.audit_events(a), ADMIN_OPS),
    "audit_events_of_acme": Op(lambda lg, a, c: lg.audit_events(a, workspace_id=c["acme"]), ADMIN_OPS),
    # notifications: one's own inbox and email choices; the rest is administration
    "notifications": Op(lambda lg, a, c: lg.notifications(a), SIGNED_IN, scoped=True),
    "unread_count": Op(lambda lg, a, c: lg.unread_count(a), SIGNED_IN),
    "mark_read": Op(lambda lg, a, c: lg.mark_read(a), SIGNED_IN),
    "notification_settings": Op(lambda lg, a, c: lg.notification_settings(a), SIGNED_IN),
    "set_notification_settings": Op(
        lambda lg, a, c: lg.set_notification_settings(a, email_enabled=False), SIGNED_IN
    ),
    "thresholds": Op(lambda lg, a, c: lg.thresholds(a, c["acme"]), MEMBER_OPS),
    "set_thresholds": Op(lambda lg, a, c: lg.set_thresholds(a, c["acme"], runway_days=[3, 7]), ADMIN_OPS),
    "add_webhook": Op(
        lambda lg, a, c: lg.add_webhook(a, "http://127.0.0.1:9/hook", secret=SECRET, events=["balance.low"]),
        ADMIN_OPS,
    ),
    "webhooks": Op(lambda lg, a, c: lg.webhooks(a), ADMIN_OPS),
    "remove_webhook": Op(lambda lg, a, c: lg.remove_webhook(a, c["webhook"]()), ADMIN_OPS,
                             needs=("webhook",)),
    "deliveries": Op(lambda lg, a, c: lg.deliveries(a), ADMIN_OPS),
    "send_again": Op(lambda lg, a, c: lg.send_again(a, c["delivery"]()), ADMIN_OPS, needs=("delivery",)),
    # the rate card (issue 15): read by everyone signed in, changed by administrators
    "prices": Op(lambda lg, a, c: lg.prices(a), SIGNED_IN),
    "set_price": Op(lambda lg, a, c: lg.set_price(a, "AI", "token", "0.002"), ADMIN_OPS),
    "consume_usage": Op(
        lambda lg, a, c: lg.consume_usage(a, c["acme"], "AI", 10, unit="token", description="x"), MEMBER_OPS
    ),
    "link_workspace": Op(lambda lg, a, c: lg.link_workspace(a, c["acme"], "team-acme"), ADMIN_OPS),
    "external_id": Op(lambda lg, a, c: lg.external_id(a, c["acme"]), MEMBER_OPS),
    "usage_by_feature": Op(lambda lg, a, c: lg.usage_by_feature(a, *_d(lg)), SIGNED_IN, scoped=True),
    "usage_by_feature_of_acme": Op(
        lambda lg, a, c: lg.usage_by_feature(a, *_d(lg), workspace_id=c["acme"]), MEMBER_OPS
    ),
}
SECRET = "whsec_" + "A" * 32
# Public methods that take no acting user, and why that is right.
NOT_ACTOR_SCOPED = {
    "add_user": "operator set-up (CLI, demo), not reachable from the app",
    "create_workspace": "operator set-up",
    "add_member": "operator set-up",
    "authenticate": "signing in is how one becomes an actor",
    "user_for_sso": "signing in through the identity provider",
    "user_by_email": "the CLI's --as and sign-in",
    "user_by_id": "restoring a session; returns no money data",
    "system_user": "the CLI's operator",
    "today": "the ledger's clock",
    "now": "the ledger's clock",
    "verify": "whole-ledger check run by the operator",
    "has_data": "the CLI's seed --if-missing: a yes/no, no data",
    "has_admin": "the first-run screen: a yes/no, no data",
    "checkpoint": "maintenance",
    "expire_due": "the expiry job (app process, billing expire): expires only what is due, for everyone",
    "start_expiry_job": "lifecycle: the app process's expiry job",
    "start_session": "signing in, right after authenticate or user_for_sso; refuses a forged user itself",
    "session_user": "the session token is the credential (tests/unit/test_sessions.py)",
    "end_session": "signing out: the token is the credential",
    "password_link_info": "the one-time link's token is the credential (tests/unit/test_people.py)",
    "set_password_with_link": "the one-time link's token is the credential",
    "compact_rollups": "maintenance of derived rows (verify() recomputes them)",
    "consume_many": "a batch of events for many workspaces: its own test below",
    "close": "lifecycle",
    "start_backups": "lifecycle: the app's backup thread (its scheduled backups are the operator's)",
    "configure_email": "the app's set-up: where email goes",
    "deliver_due": "the dispatcher's pass (a background thread, billing notify run)",
    "refresh_thresholds": "the dispatcher's periodic pass",
    "detect_spikes": "the dispatcher's periodic pass",
    "dispatcher": "the dispatcher itself (the app and billing notify run start it)",
    "start_dispatcher": "the app process's background sending",
    "path": "where the file is",
}


WRITES = {
    "consume",
    "consume_usage",
    "set_price",
    "link_workspace",
    "request_credits",
    "cancel_request",
    "approve_request",
    "reject_request",
    "set_wallet_status",
    "grant_credits",
    "set_credit_policy",
    "end_all_sessions",
    "change_password",
    "end_session_by_id",
    "invite_user",
    "deactivate_user",
    "reactivate_user",
    "promote_admin",
    "demote_admin",
    "reset_link",
    "add_workspace",
    "rename_workspace",
    "archive_workspace",
    "add_workspace_member",
    "remove_workspace_member",
    "grant",
    "correct_entry",
    "set_notification_settings",
    "set_thresholds",
    "add_webhook",
    "remove_webhook",
    "send_again",
}


def test_every_public_operation_is_classified() -> None:
    public = {n for n in dir(Ledger) if not n.startswith("_")}
    table = {name.split("_of_")[0] for name in OPERATIONS} | set(NOT_ACTOR_SCOPED)
    assert public - table == set(), "new Ledger operations need a row in the access matrix"
    assert table - public == set(), "the matrix names operations that no longer exist"


def callers(people: dict[str, Any]) -> dict[str, object]:
    alice, admin2 = people["alice"], people["admin2"]
    return {
        "member": alice,  # member of Acme only
        "outsider": people["bob"],  # member of Beta only
        "admin": admin2,
        "nobody": None,
        "forged_admin": replace(alice, is_admin=True),
        "stranger": User(id=999, email="ghost@example.com", name="Ghost", is_admin=True),
        "impostor": User(id=admin2.id, email=alice.email, name="Ada?", is_admin=True),
        "bare_email": admin2.email,
    }


def scope_problems(ledger: Ledger, name: str, result: object, visible: set[int]) -> list[str]:
    """What a list holds beyond the workspaces `visible` (None-checks for admins skipped)."""
    found: set[int] = set()
    items = result.wallets if isinstance(result, ConsolidatedWallet) else result
    if isinstance(items, list):
        for item in items:
            if isinstance(item, Workspace):
                found.add(item.id)
            elif isinstance(item, WalletSummary):
                found.add(item.wallet.workspace_id)
            elif isinstance(item, CreditRequest):
                found.add(item.workspace_id)
            elif isinstance(item, Notification) and item.workspace_id is not None:
                found.add(item.workspace_id)
    elif isinstance(items, pd.DataFrame):
        if "workspace_id" in items.columns:
            found |= {int(x) for x in items["workspace_id"]}
        elif "spent" in items.columns or "amount" in items.columns:
            column = "spent" if "spent" in items.columns else "amount"
            shown = sum((Decimal(str(x)) for x in items[column]), Decimal(0))
            kinds = "('debit')" if column == "spent" else "('debit', 'credit', 'expiry')"
            own = rows(
                ledger,
                f"SELECT coalesce(sum(amount), 0) FROM entries WHERE kind IN {kinds} "  # noqa: S608
                "AND workspace_id IN (SELECT unnest(?::BIGINT[]))",
                [sorted(visible)],
            )[0][0]
            if shown != own:
                return [f"{name}: totals {shown} include other workspaces (own: {own})"]
    extra = found - visible
    return [f"{name}: shows workspaces {sorted(extra)}"] if extra else []


@pytest.mark.parametrize(
    "role", ["member", "outsider", "admin", "nobody", "forged_admin", "stranger", "impostor", "bare_email"]
)
def test_every_operation_for_every_kind_of_caller(ledger: Ledger, people: dict, role: str) -> None:
    admin, alice, bob, carol = (people[k] for k in ("admin", "alice", "bob", "carol"))
    acme, beta = people["acme"].id, people["beta"].id
    for space, spender in ((acme, alice), (beta, bob), (acme, carol), (beta, carol)):
        ledger.grant_credits(admin, space, "100", description="funding")
        ledger.consume(spender, space, "3", feature="AI", description="use")
        ledger.request_credits(spender, space, "7")
    debit = ledger.history(admin, acme, kind="debit").items[0].id
    grant = ledger.grants(admin, acme)[0].id

    ledger.set_price(admin, "*", "token", "0.01")  # so that consume_usage has a price
    for space, spender in ((acme, alice), (beta, bob)):  # usage for usage_by_feature to scope
        ledger.consume_usage(spender, space, "AI", 100, unit="token", description="use")
    def webhook() -> int:
        return ledger.add_webhook(admin, "http://127.0.0.1:9/h", secret=SECRET, events=["request.created"]).id

    def delivery() -> int:
        webhook()
        ledger.request_credits(alice, acme, "1")
        return ledger.deliveries(admin, limit=1)[0].id

    numbers = iter(range(1, 10_000))

    def person(admin_too: bool = False) -> int:
        n = next(numbers)
        return ledger.add_user(f"p{n}@example.com", f"Person {n}", admin=admin_too).id

    def gone() -> int:
        target = person()
        ledger.deactivate_user(admin, target)
        return target

    def joined() -> int:
        target = person()
        ledger.add_member(acme, target)
        return target

    context = {
        "acme": acme,
        "beta": beta,
        "debit": debit,
        "grant": grant,
        "carol": carol.id,
        "request": lambda: ledger.request_credits(alice, acme, "5").id,
        "entry": lambda: ledger.grant_credits(admin, acme, "2", description="to correct").id,
        "session": lambda: ledger.start_session(alice).id,
        "person": person,
        "extra_admin": lambda: person(admin_too=True),
        "gone": gone,
        "joined": joined,
        "scratch": lambda: ledger.create_workspace(f"Scratch {next(numbers)}").id,
        "email": lambda: f"invited{next(numbers)}@example.com",
        "space_name": lambda: f"Space {next(numbers)}",
        "webhook": webhook,
        "delivery": delivery,
    }
    actor = callers(people)[role]
    acts_as = "member" if role == "forged_admin" else role  # the flag itself gives nothing
    visible = {"member": {acme}, "outsider": {beta}}.get(acts_as)
    problems: list[str] = []
    for name, op in OPERATIONS.items():
        if role in op.allowed or acts_as in op.allowed:
            try:
                result = op.call(ledger, actor, context)
            except Exception as error:  # noqa: BLE001 - collected
                problems.append(f"{name}: allowed, but {type(error).__name__}: {error}")
                continue
            if op.scoped and visible is not None:
                problems += scope_problems(ledger, name, result, visible)
            if name == "set_wallet_status":
                ledger.set_wallet_status(admin, acme, "active")
            if name == "set_credit_policy":  # back to no standing approval for the next calls
                ledger.set_credit_policy(admin, acme)
        else:
            context_request = context["request"]() if "request" in name else None
            bound = dict(context, request=lambda r=context_request: r)
            for key in op.needs:
                made = context[key]()
                bound[key] = lambda made=made: made
            before = counts(ledger) if name in WRITES else None
            try:
                op.call(ledger, actor, bound)
                problems.append(f"{name}: should be refused, it succeeded")
            except PermissionDenied:
                pass
            except Exception as error:  # noqa: BLE001 - collected
                problems.append(f"{name}: {type(error).__name__} instead of PermissionDenied: {error}")
            if before is not None and counts(ledger) != before:
                problems.append(f"{name}: a refused call wrote something")
    ledger.verify()
    assert not problems, "\n".join(problems)


def test_the_scope_check_sees_a_leak(ledger: Ledger, people: dict) -> None:
    """The checker itself: an admin's lists, judged as if for a member of Acme, leak Beta."""
    admin, bob, beta = people["admin"], people["bob"], people["beta"].id
    ledger.grant_credits(admin, beta, "10", description="funding")
    ledger.consume(bob, beta, "2", feature="AI", description="use")
    ledger.request_credits(bob, beta, "4")
    acme_only = {people["acme"].id}
    for name in (
        "wallets",
        "workspaces",
        "requests",
        "spend_by_feature",
        "credits_vs_debits",
        "wallet_overview",
        "spend_by_workspace",
    ):
        result = OPERATIONS[name].call(ledger, admin, {})
        assert scope_problems(ledger, name, result, acme_only), name


def test_new_members_can_act_at_once_while_others_read(size, tally, new_ledger) -> None:
    """Access is checked against a cached directory: a member added a moment ago is let in
    at once, however many readers are reloading the cache meanwhile, and a person who is in
    no workspace is kept out throughout."""
    import threading

    from tests.hardening.books import cast

    ledger = new_ledger()
    try:
        people = cast(ledger, 3, funding="100000")
        admin, outsider = people["admins"][0], people["outsider"]
        spaces = people["spaces"]
        stop = threading.Event()
        leaks: list[str] = []

        def read() -> None:
            while not stop.is_set():
                ledger.wallets(admin)
                for space in spaces:
                    try:
                        ledger.wallet(outsider, space)
                        leaks.append(f"the outsider read workspace {space}")
                    except PermissionDenied:
                        pass

        readers = [threading.Thread(target=read) for _ in range(3)]
        for reader in readers:
            reader.start()
        try:
            for n in range(size.pick(30, 300)):
                space = spaces[n % len(spaces)]
                newcomer = ledger.add_user(f"new{n}@example.com", f"Newcomer {n}")
                ledger.add_member(space, newcomer.id)
                try:
                    ledger.consume(newcomer, space, "1", feature="AI", description="first day")
                except PermissionDenied as error:
                    tally.problem(f"newcomer {n} was refused right after joining: {error}")
                tally.add(operations=2)
        finally:
            stop.set()
            for reader in readers:
                reader.join()
        tally.problems(leaks)
        tally.add(runs=1)
        ledger.verify()
    finally:
        ledger.close()
    tally.assert_clean()


def test_consume_many_posts_only_where_the_caller_may_consume(ledger: Ledger, people: dict) -> None:
    from datetime import datetime

    admin, acme, beta = people["admin"], people["acme"].id, people["beta"].id
    for space in (acme, beta):
        ledger.grant_credits(admin, space, "100", description="funding")

    def events(space: int) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "workspace": [space],
                "amount": ["1"],
                "feature": ["AI"],
                "description": ["batch"],
                "occurred_at": [datetime(2026, 11, 27, 12)],
            }
        )

    wrong = []
    for role, actor in callers(people).items():
        acts_as = "member" if role == "forged_admin" else role
        for space in (acme, beta):
            allowed = (
                acts_as == "admin"
                or (acts_as == "member" and space == acme)
                or (acts_as == "outsider" and space == beta)
            )
            before = counts(ledger)
            try:
                posted = ledger.consume_many(actor, events(space)).posted  # type: ignore[arg-type]
            except PermissionDenied:
                posted = 0
            except Exception as error:  # noqa: BLE001 - collected
                wrong.append(f"{role} -> {space}: {type(error).__name__}: {error}")
                continue
            if posted != (1 if allowed else 0):
                wrong.append(f"{role} -> {space}: posted {posted}")
            if not allowed and counts(ledger) != before:
                wrong.append(f"{role} -> {space}: a refused batch wrote something")
    assert not wrong, "\n".join(wrong)
