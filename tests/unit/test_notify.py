"""Issue 13: events written with their changes, the inbox, email over SMTP, signed webhooks,
balance alerts and spikes. Every test that takes a ledger runs on both stores."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing_core import InvalidInput, Ledger, PermissionDenied
from billing_core.notify.channels import SmtpSettings, new_secret
from tests.conftest import FakeClock, fund
from tests.hardening.books import rows
from tests.peers import http_endpoint, smtp_server

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


def events(ledger: Ledger) -> list[tuple[str, int | None]]:
    return [(str(e), r) for e, r in rows(ledger, "SELECT event, request_id FROM outbox ORDER BY id")]


def quiet(ledger: Ledger, people: dict) -> None:
    """No automatic low-balance levels: only what a test sets."""
    for space in ("acme", "beta"):
        ledger.set_thresholds(people["admin"], people[space].id, top_up_share=None, runway_days=[])


# --------------------------------------------------------------------- events
def test_each_change_writes_its_event_once(ledger: Ledger, people: dict) -> None:
    admin, admin2, alice = people["admin"], people["admin2"], people["alice"]
    acme = people["acme"].id
    quiet(ledger, people)
    first = ledger.request_credits(alice, acme, "50", note="For the pilot")
    second = ledger.request_credits(alice, acme, "60")
    third = ledger.request_credits(alice, acme, "70")
    ledger.approve_request(admin, first.id, note="Go ahead")
    ledger.reject_request(admin2, second.id, "Next month")
    ledger.cancel_request(alice, third.id)
    ledger.set_wallet_status(admin, acme, "inactive")
    ledger.set_wallet_status(admin, acme, "inactive")  # no change: no event
    ledger.set_wallet_status(admin, acme, "active")
    assert events(ledger) == [
        ("request.created", first.id),
        ("request.created", second.id),
        ("request.created", third.id),
        ("request.approved", first.id),
        ("request.rejected", second.id),
        ("request.cancelled", third.id),
        ("wallet.deactivated", None),
        ("wallet.activated", None),
    ]
    approved = json.loads(rows(ledger, "SELECT payload FROM outbox WHERE event = 'request.approved'")[0][0])
    assert approved["note"] == "Go ahead" and Decimal(approved["balance"]) == Decimal(50)
    assert "Go ahead" in approved["text"] and "50.00 en-credits" in approved["text"]


def test_a_change_that_rolls_back_leaves_no_event(ledger: Ledger, people: dict, monkeypatch) -> None:
    from billing_core import audit

    alice = people["alice"]
    before = events(ledger)
    with pytest.raises(PermissionDenied):
        ledger.approve_request(alice, ledger.request_credits(alice, people["acme"].id, "5").id)
    assert events(ledger)[len(before) :] == [("request.created", 1)]

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the disk filled up")

    monkeypatch.setattr(audit, "record", broken)  # fails after the event is written
    with pytest.raises(Exception, match="disk filled up"):
        ledger.request_credits(alice, people["acme"].id, "9")
    monkeypatch.undo()
    assert len(events(ledger)) == len(before) + 1
    assert rows(ledger, "SELECT count(*) FROM inbox WHERE event_id NOT IN (SELECT id FROM outbox)") == [(0,)]


# ---------------------------------------------------------------------- inbox
def test_the_inbox_holds_what_each_person_may_see(ledger: Ledger, people: dict) -> None:
    admin, alice, bob, carol = (people[k] for k in ("admin", "alice", "bob", "carol"))
    acme, beta = people["acme"].id, people["beta"].id
    quiet(ledger, people)
    asked = ledger.request_credits(alice, acme, "10")
    ledger.approve_request(admin, asked.id)
    ledger.request_credits(bob, beta, "20")
    assert [n.event for n in ledger.notifications(admin)] == ["request.created", "request.created"]
    assert [n.event for n in ledger.notifications(alice)] == ["request.approved"]
    assert [n.event for n in ledger.notifications(carol)] == ["request.approved"]  # a member of Acme
    assert ledger.notifications(bob) == []  # Beta's request is for the admins; Acme's decision not his
    mine = ledger.notifications(alice)[0]
    assert mine.workspace_id == acme and mine.request_id == asked.id and not mine.read
    assert ledger.mark_read(bob, [mine.id]) == 0  # someone else's: nothing changes
    assert ledger.unread_count(alice) == 1
    assert ledger.mark_read(alice, [mine.id]) == 1
    assert ledger.unread_count(alice) == 0 and ledger.notifications(alice, unread_only=True) == []
    assert ledger.mark_read(admin) == 2  # mark all read


def test_nobody_and_forged_users_get_no_inbox(ledger: Ledger, people: dict) -> None:
    from dataclasses import replace

    with pytest.raises(PermissionDenied):
        ledger.notifications(None)  # type: ignore[arg-type]
    with pytest.raises(PermissionDenied):
        ledger.notifications(replace(people["alice"], id=people["admin"].id))


# ----------------------------------------------------------------------- email
def test_email_goes_over_smtp_to_the_people_who_want_it(ledger: Ledger, people: dict) -> None:
    admin, admin2, alice = people["admin"], people["admin2"], people["alice"]
    quiet(ledger, people)
    ledger.set_notification_settings(admin2, email_enabled=False)
    ledger.set_notification_settings(alice, email_enabled=True, email_events=["request.approved"])
    with smtp_server() as box:
        ledger.configure_email(SmtpSettings(host=box.host, port=box.port, security="none"))
        asked = ledger.request_credits(alice, people["acme"].id, "12.5", note="<b>Pilot</b>")
        ledger.approve_request(admin, asked.id)
        # the new request to Ada (Grace turned email off); the approval to Alice and to Carol,
        # Acme's other member (who never chose, so gets every kind)
        assert ledger.deliver_due() == 3
        assert ledger.deliver_due() == 0
    sent = {m["To"]: m for m in box.messages}
    assert set(sent) == {"ada@example.com", "alice@example.com", "carol@example.com"}
    text = sent["ada@example.com"].get_body(("plain",)).get_content()
    html = sent["ada@example.com"].get_body(("html",)).get_content()
    assert "asked for 12.50 en-credits for Acme" in text and "<b>Pilot</b>" in text
    assert "&lt;b&gt;Pilot&lt;/b&gt;" in html and "<b>Pilot</b>" not in html  # escaped in HTML
    assert sent["alice@example.com"]["Subject"] == "Credit request approved — Acme"
    log = ledger.deliveries(admin)
    assert {d.status for d in log} == {"delivered"} and all(d.attempts == 1 for d in log)


def test_without_an_smtp_host_email_waits_and_says_why(ledger: Ledger, people: dict) -> None:
    ledger.configure_email(None)
    ledger.request_credits(people["alice"], people["acme"].id, "5")
    assert ledger.deliver_due() == 2  # both admins' emails tried
    log = ledger.deliveries(people["admin"])
    assert {d.status for d in log} == {"pending"}
    assert all(d.last_error == "email is not configured (no SMTP host)" for d in log)


# -------------------------------------------------------------------- webhooks
def test_webhooks_are_signed_as_standard_webhooks_and_checked_independently(
    ledger: Ledger, people: dict
) -> None:
    from standardwebhooks.webhooks import Webhook as Verifier

    admin, alice = people["admin"], people["alice"]
    quiet(ledger, people)
    with http_endpoint() as endpoint:
        hook = ledger.add_webhook(
            admin, endpoint.url, secret=SECRET, events=["request.created", "balance.zero"]
        )
        asked = ledger.request_credits(alice, people["acme"].id, "5", note='=HYPERLINK("x")')
        ledger.configure_email(None)
        ledger.deliver_due()
    (got,) = endpoint.received
    verifier = Verifier(SECRET)
    stamp = datetime.fromtimestamp(int(got.headers["webhook-timestamp"]))
    expected = verifier.sign(got.headers["webhook-id"], stamp, got.body.decode())
    assert got.headers["webhook-signature"] == expected  # the library's own signature of what came
    body = json.loads(got.body)
    assert body["type"] == "request.created" and body["data"]["request_id"] == asked.id
    assert body["data"]["note"] == '=HYPERLINK("x")'  # data as it is: JSON, not a spreadsheet
    assert got.headers["webhook-id"] == f"evt_{body['data']['event_id']}"
    (delivery,) = ledger.deliveries(admin, webhook_id=hook.id)
    assert delivery.status == "delivered" and delivery.last_status == 204


def test_a_failing_endpoint_is_retried_with_backoff_and_the_same_event_id(
    ledger: Ledger, people: dict
) -> None:
    clock = FakeClock(datetime(2026, 11, 27, 12, 0))
    ledger.db.clock = clock  # the dispatcher's "now"
    admin, alice = people["admin"], people["alice"]
    for person in (admin, people["admin2"]):
        ledger.set_notification_settings(person, email_enabled=False)  # only the webhook is sent
    with http_endpoint() as endpoint:
        endpoint.answers = [500, 503]
        hook = ledger.add_webhook(admin, endpoint.url, secret=SECRET, events=["request.created"])
        ledger.request_credits(alice, people["acme"].id, "5")
        tried = [ledger.deliver_due()]
        (first,) = ledger.deliveries(admin, webhook_id=hook.id)
        assert (first.status, first.attempts, first.last_error) == ("pending", 1, "HTTP 500")
        assert first.next_attempt_at is not None
        assert first.next_attempt_at.replace(tzinfo=None) == clock.now + timedelta(seconds=30)
        tried.append(ledger.deliver_due())  # not due yet
        clock.now += timedelta(seconds=30)
        tried.append(ledger.deliver_due())  # 503
        clock.now += timedelta(minutes=2)
        tried.append(ledger.deliver_due())  # 204
    assert tried == [1, 0, 1, 1]
    ids = {r.headers["webhook-id"] for r in endpoint.received}
    assert len(endpoint.received) == 3 and len(ids) == 1
    (done,) = ledger.deliveries(admin, webhook_id=hook.id)
    assert (done.status, done.attempts) == ("delivered", 3)


def test_a_dead_endpoint_is_given_up_after_a_day_and_can_be_sent_again(ledger: Ledger, people: dict) -> None:
    from billing_core.notify.dispatch import RETRIES

    clock = FakeClock(datetime(2026, 11, 27, 12, 0))
    ledger.db.clock = clock
    admin = people["admin"]
    ledger.configure_email(None)
    hook = ledger.add_webhook(
        admin, "http://127.0.0.1:1/nobody-listens", secret=SECRET, events=["request.created"]
    )
    ledger.request_credits(people["alice"], people["acme"].id, "5")
    started = clock.now
    while ledger.deliver_due():
        (pending,) = ledger.deliveries(admin, webhook_id=hook.id)
        if pending.status != "pending":
            break
        assert pending.next_attempt_at is not None
        clock.now = pending.next_attempt_at.replace(tzinfo=None)
    (gone,) = ledger.deliveries(admin, webhook_id=hook.id)
    assert gone.status == "failed" and gone.attempts == len(RETRIES) + 1
    assert clock.now - started >= timedelta(hours=24)
    assert ledger.send_again(admin, gone.id).status == "pending"
    with pytest.raises(PermissionDenied):
        ledger.send_again(people["alice"], gone.id)


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/x", "https://user:pw@example.com/x", "not a url", "https://", "javascript:alert(1)"],
)
def test_bad_endpoints_are_refused(ledger: Ledger, people: dict, url: str) -> None:
    with pytest.raises(InvalidInput):
        ledger.add_webhook(people["admin"], url, secret=SECRET, events=["balance.low"])
    assert ledger.webhooks(people["admin"]) == []


def test_private_endpoints_are_refused_unless_allowed(ledger: Ledger, people: dict, monkeypatch) -> None:
    monkeypatch.delenv("BILLING_WEBHOOKS_ALLOW_PRIVATE")
    for url in (
        "http://127.0.0.1:8080/x",
        "https://127.0.0.1/x",
        "https://10.0.0.5/x",
        "https://[::1]/x",
        "https://169.254.169.254/latest/meta-data",
    ):
        with pytest.raises(InvalidInput, match="https|private or local"):
            ledger.add_webhook(people["admin"], url, secret=SECRET, events=["balance.low"])


@pytest.mark.parametrize("secret", ["", "abc", "whsec_!!!", "whsec_" + base64.b64encode(b"short").decode()])
def test_bad_secrets_are_refused(ledger: Ledger, people: dict, secret: str) -> None:
    with pytest.raises(InvalidInput, match="secret"):
        ledger.add_webhook(people["admin"], "http://127.0.0.1:9/x", secret=secret, events=["balance.low"])


def test_a_new_secret_is_accepted() -> None:
    from billing_core.notify.channels import clean_secret

    assert clean_secret(new_secret()).startswith("whsec_")


# ------------------------------------------------------------- balance alerts
def test_a_level_fires_once_going_down_and_resolves_once_coming_back(ledger: Ledger, people: dict) -> None:
    admin, alice = people["admin"], people["alice"]
    acme = people["acme"].id
    quiet(ledger, people)
    ledger.set_thresholds(admin, acme, amounts=["50"])
    fund(ledger, admin, acme, "100")
    for _ in range(6):  # 100 -> 40: crosses 50 once, then stays below
        ledger.consume(alice, acme, "10", feature="AI", description="x")
    assert ledger.thresholds(alice, acme).active == ("below 50.00 en-credits",)
    for _ in range(4):  # to zero: features blocked
        ledger.consume(alice, acme, "10", feature="AI", description="x")
    fund(ledger, admin, acme, "30")  # still below
    fund(ledger, admin, acme, "30")  # back above
    fund(ledger, admin, acme, "30")
    assert [e for e, _ in events(ledger)] == ["balance.low", "balance.zero", "balance.resolved"]
    assert ledger.thresholds(alice, acme).active == ()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    steps=st.lists(st.tuples(st.booleans(), st.integers(1, 40)), min_size=1, max_size=25),
    levels=st.lists(st.integers(1, 120), min_size=1, max_size=3, unique=True),
)
def test_alerts_match_a_model_of_crossings(new_ledger: Callable[..., Ledger], steps, levels) -> None:
    """Whatever the debits and top-ups, each level fires once per fall below it and resolves
    once per rise back above it: the outbox holds exactly the model's events."""
    ledger = new_ledger()
    admin = ledger.add_user("ada@example.com", "Ada", admin=True)
    space = ledger.create_workspace("Acme").id
    ledger.set_thresholds(admin, space, top_up_share=None, runway_days=[], amounts=[str(x) for x in levels])
    balance, active, expected = Decimal(0), set(), []
    for credit, amount in steps:
        value = Decimal(amount)
        if not credit and value > balance:
            continue  # a refused debit changes nothing
        before, balance = balance, balance + value if credit else balance - value
        if before > 0 >= balance:
            expected.append("balance.zero")
        for level in sorted(Decimal(x) for x in levels):
            if before >= level > balance and level not in active:
                active.add(level)
                expected.append("balance.low")
            elif before < level <= balance and level in active:
                active.discard(level)
                expected.append("balance.resolved")
        if credit:
            ledger.grant_credits(admin, space, str(value), description="top-up")
        else:
            ledger.consume(admin, space, str(value), feature="AI", description="use")
    got = [e for e, _ in events(ledger) if e.startswith("balance.")]
    assert sorted(got) == sorted(expected)  # within one batch, levels fire in level order
    ledger.verify()


def test_the_default_levels_follow_the_last_top_up_and_the_burn_rate(ledger: Ledger, people: dict) -> None:
    admin, alice = people["admin"], people["alice"]
    acme = people["acme"].id
    fund(ledger, admin, acme, "1000")
    ledger.consume(alice, acme, "30", feature="AI", description="x")  # 1 a day over 30 days
    ledger.refresh_thresholds()
    levels = dict(ledger.thresholds(alice, acme).levels)
    assert levels == {"20% of the last top-up": Decimal(200), "7 days of runway": Decimal(7)}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"top_up_share": "1.5"}, "between 0 and 1"),
        ({"runway_days": [0]}, "1 to 365"),
        ({"amounts": ["-5"]}, "greater than zero"),
        ({"spike_factor": "1"}, "1.5 to 100"),
        ({"amounts": [1.5]}, "exact"),
    ],
)
def test_bad_threshold_settings_are_refused_and_change_nothing(
    ledger: Ledger, people: dict, change, message
) -> None:
    admin, acme = people["admin"], people["acme"].id
    before = ledger.thresholds(admin, acme)
    with pytest.raises(InvalidInput, match=message):
        ledger.set_thresholds(admin, acme, **change)
    assert ledger.thresholds(admin, acme) == before
    with pytest.raises(PermissionDenied):
        ledger.set_thresholds(people["alice"], acme, amounts=["5"])


def test_bulk_ingest_crossing_a_level_fires_it(ledger: Ledger, people: dict) -> None:
    from tests.unit.test_ingest import T0, backdate
    from tests.unit.test_ingest import events as usage

    admin, acme = people["admin"], people["acme"].id
    quiet(ledger, people)
    backdate(ledger)
    ledger.set_thresholds(admin, acme, amounts=["50"])
    fund(ledger, admin, acme, "100")
    result = ledger.consume_many(admin, usage(*[(acme, "20", "chat", i) for i in range(4)]))
    assert result.posted == 4
    assert [e for e, _ in events(ledger)] == ["balance.low"]
    assert T0 < ledger.db.clock()


# ---------------------------------------------------------------------- spikes
def test_a_spike_names_the_feature_and_the_member_and_is_told_once(ledger: Ledger, people: dict) -> None:
    clock = FakeClock(datetime(2026, 11, 27, 12, 0))
    ledger.db.clock = clock
    admin, alice, carol = people["admin"], people["alice"], people["carol"]
    acme = people["acme"].id
    quiet(ledger, people)
    fund(ledger, admin, acme, "100000")
    for day in range(10, 0, -1):  # a usual day: 10 credits
        clock.now = datetime(2026, 11, 27, 12, 0) - timedelta(days=day)
        ledger.consume(alice, acme, "10", feature="AI chat", description="usual")
    clock.now = datetime(2026, 11, 27, 11, 30)
    ledger.consume(carol, acme, "40", feature="Image generation", description="burst")
    ledger.consume(alice, acme, "5", feature="AI chat", description="burst")
    clock.now = datetime(2026, 11, 27, 12, 0)
    assert ledger.detect_spikes() == 2  # the hour and the day
    assert ledger.detect_spikes() == 0  # told once
    texts = [
        json.loads(p[0])["text"]
        for p in rows(ledger, "SELECT payload FROM outbox WHERE event = 'spend.spike'")
    ]
    assert all("Image generation" in t and "Carol" in t for t in texts), texts


def test_no_spike_without_unusual_spend(ledger: Ledger, people: dict) -> None:
    admin, alice, acme = people["admin"], people["alice"], people["acme"].id
    fund(ledger, admin, acme, "100")
    ledger.consume(alice, acme, "0.5", feature="AI", description="tiny")
    assert ledger.detect_spikes() == 0  # under one credit: noise


# ------------------------------------------------------------------ delivery
CHILD = """
import sys, billing_core
ledger = billing_core.open_ledger(sys.argv[1])
ledger.configure_email(None)
ledger.deliver_due()  # claims the webhook's delivery, then hangs in its POST until killed
"""


def test_a_dispatcher_killed_mid_send_loses_nothing(new_ledger, store, request, tmp_path) -> None:
    """kill -9 while the POST is in flight: after the lease runs out, the next pass sends it
    again with the same webhook-id, and it is delivered."""
    import os
    import signal
    import subprocess
    import sys

    import billing_core

    if store == "duckdb":
        where = str(tmp_path / "ledger.duckdb")
        billing_core.open_ledger(where, create=True).close()
    else:
        server = request.getfixturevalue("postgres")
        name, where = server.fresh()
        request.addfinalizer(lambda: server.drop(name))
    with billing_core.open_ledger(where) as book, http_endpoint() as endpoint:
        admin = book.add_user("ada@example.com", "Ada", admin=True)
        space = book.create_workspace("Acme").id
        book.set_notification_settings(admin, email_enabled=False)
        book.add_webhook(admin, endpoint.url, secret=SECRET, events=["request.created"])
        book.request_credits(admin, space, "5")
        endpoint.answers = ["hang"]
        book.close() if store == "duckdb" else None  # DuckDB: one process holds the file
        child = subprocess.Popen([sys.executable, "-c", CHILD, where], cwd=os.getcwd())
        try:
            assert endpoint.arrived.wait(60), "the child never sent"
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(30)
        clock = FakeClock(datetime(2026, 11, 27, 0, 0) + timedelta(minutes=3))  # past the 2-minute lease
        with billing_core.open_ledger(where, clock=clock) as again:
            again.configure_email(None)
            assert again.deliver_due() == 1
            (delivery,) = again.deliveries(admin)
            assert (delivery.status, delivery.attempts) == ("delivered", 1)
        ids = [r.headers["webhook-id"] for r in endpoint.received]
        assert len(ids) == 2 and len(set(ids)) == 1


def test_two_dispatchers_never_send_one_delivery_twice_at_once(new_ledger, store) -> None:
    """Two dispatchers (two processes' Ledgers on a server; two threads on DuckDB) racing over
    the same due deliveries: each is sent exactly once."""
    import threading

    first = new_ledger()
    admin = first.add_user("ada@example.com", "Ada", admin=True)
    space = first.create_workspace("Acme").id
    first.set_notification_settings(admin, email_enabled=False)
    with http_endpoint() as endpoint:
        first.add_webhook(admin, endpoint.url, secret=SECRET, events=["request.created"])
        for _ in range(60):
            first.request_credits(admin, space, "1")
        second = first
        if store == "postgresql":
            import billing_core

            second = billing_core.open_ledger(first.db.path)  # another process, in effect
        barrier = threading.Barrier(2)

        def drain(book: Ledger) -> None:
            barrier.wait()
            while book.deliver_due():
                pass

        threads = [threading.Thread(target=drain, args=(book,)) for book in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if second is not first:
            second.close()
    ids = [r.headers["webhook-id"] for r in endpoint.received]
    assert len(ids) == 60 and len(set(ids)) == 60
