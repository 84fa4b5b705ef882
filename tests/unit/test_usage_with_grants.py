"""Priced usage (issue 15) and grants (issue 14): a usage debit draws from the wallet's
grants in the draw-down order like any debit, one by one (consume_usage) or in a priced
batch (consume_many with a unit); a usage debit priced at 0 draws nothing and cannot be
corrected. verify() holds throughout. Both stores."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pandas as pd
import pytest

from billing_core import EntryKind, InvalidInput, Ledger
from tests.hardening.books import audit_problems, replay_problems


def checked(ledger: Ledger) -> None:
    ledger.verify()
    assert not audit_problems(ledger)
    assert not replay_problems(ledger)


@pytest.fixture
def funded(ledger: Ledger, people: dict) -> tuple[Ledger, dict, int, int]:
    """Acme with a promotional grant of 1 (drawn first) and a purchased one of 10, and a
    rate card: 0.001 a token for AI, 0.00004 a token for everything else."""
    admin, acme = people["admin"], people["acme"].id
    promo = ledger.grant_credits(admin, acme, "1", description="promo", kind="promotional")
    bought = ledger.grant_credits(admin, acme, "10", description="bought")
    ledger.set_price(admin, "AI", "token", "0.001", effective_from=date(2026, 1, 1))
    ledger.set_price(admin, "*", "token", "0.00004", effective_from=date(2026, 1, 1))
    (p,) = ledger.draws(admin, promo.id)
    (b,) = ledger.draws(admin, bought.id)
    return ledger, people, p.grant_id, b.grant_id


def drawn(ledger: Ledger, who, entry_id: int) -> dict[int, Decimal]:  # type: ignore[no-untyped-def]
    return {d.grant_id: d.amount for d in ledger.draws(who, entry_id)}


def test_a_usage_debit_draws_from_the_grants_in_order(funded: tuple) -> None:
    ledger, people, promo, bought = funded
    alice, acme = people["alice"], people["acme"].id
    debit = ledger.consume_usage(alice, acme, "AI", 3000, unit="token", description="chat")
    assert (debit.amount, debit.quantity) == (Decimal(3), Decimal(3000))
    assert drawn(ledger, alice, debit.id) == {promo: Decimal(1), bought: Decimal(2)}
    checked(ledger)


def test_a_usage_debit_priced_at_zero_draws_nothing(funded: tuple) -> None:
    ledger, people, promo, bought = funded
    admin, alice, acme = people["admin"], people["alice"], people["acme"].id
    before = {g.id: g.remaining for g in ledger.grants(admin, acme)}
    tiny = ledger.consume_usage(alice, acme, "search", 1, unit="token", description="one token")
    assert tiny.kind is EntryKind.DEBIT and tiny.amount == 0  # 0.00004 is carried, not charged
    assert ledger.draws(alice, tiny.id) == []
    assert {g.id: g.remaining for g in ledger.grants(admin, acme)} == before
    with pytest.raises(InvalidInput, match="moved no credits"):
        ledger.correct_entry(admin, tiny.id, reason="nothing to undo")
    checked(ledger)
    # the carried remainders add up to a debit that draws again
    for _ in range(2):
        ledger.consume_usage(alice, acme, "search", 1, unit="token", description="one token")
    third = ledger.history(admin, acme, kind="debit").items[0]
    assert third.amount == Decimal("0.0001") and drawn(ledger, alice, third.id) == {promo: Decimal("0.0001")}
    checked(ledger)


def test_a_priced_batch_draws_as_consume_usage_does_one_by_one(new_ledger) -> None:  # type: ignore[no-untyped-def]
    events = [("AI", 400), ("search", 1), ("AI", 900), ("search", 2), ("AI", 300), ("search", 5)]
    books = []
    for _ in range(2):
        book = new_ledger()
        admin = book.add_user("ada@example.com", "Ada", admin=True)
        space = book.create_workspace("Acme").id
        book.grant_credits(admin, space, "1", description="promo", kind="promotional")
        book.grant_credits(admin, space, "0.5", description="more promo", kind="promotional")
        book.grant_credits(admin, space, "10", description="bought")
        book.set_price(admin, "AI", "token", "0.001", effective_from=date(2026, 1, 1))
        book.set_price(admin, "*", "token", "0.00004", effective_from=date(2026, 1, 1))
        books.append((book, admin, space))
    one, batch = books
    when = one[0].now()  # the ledgers' pinned clock: events happen now, after the workspace
    for feature, tokens in events:
        one[0].consume_usage(one[1], one[2], feature, tokens, unit="token", description="d", occurred_at=when)
    frame = pd.DataFrame({"workspace": ["Acme"] * len(events), "feature": [e[0] for e in events],
                          "quantity": [str(e[1]) for e in events], "occurred_at": [when] * len(events)})
    result = batch[0].consume_many(batch[1], frame, unit="token")
    assert result.posted == len(events) and result.rejected_count == 0
    traces = []
    for book, admin, space in books:
        checked(book)
        rows = reversed(book.history(admin, space, limit=50).items)
        debits = [t for t in rows if t.kind is EntryKind.DEBIT]
        traces.append([(t.amount, sorted(drawn(book, admin, t.id).items())) for t in debits])
    assert traces[0] == traces[1]
    assert any(amount == 0 and pieces == [] for amount, pieces in traces[1])  # priced at 0: no draw
    assert all(sum((a for _, a in pieces), Decimal(0)) == amount for amount, pieces in traces[1])


def test_a_batch_draws_as_consume_does_whether_one_grant_pays_or_several(new_ledger) -> None:  # type: ignore[no-untyped-def]
    """Two wallets in one batch: Acme's first grant in draw-down order pays for all its
    debits (ingest's shortcut: every debit one piece of it), Beta's does not (the interval
    join splits a debit across grants). Each draws exactly as consume does one by one."""
    events = [("Acme", "3"), ("Beta", "0.7"), ("Acme", "2.5"), ("Beta", "0.6"), ("Beta", "4"),
              ("Acme", "0.0001"), ("Beta", "0.2")]
    books = []
    for _ in range(2):
        book = new_ledger()
        admin = book.add_user("ada@example.com", "Ada", admin=True)
        acme, beta = book.create_workspace("Acme").id, book.create_workspace("Beta").id
        book.grant_credits(admin, acme, "50", description="bought")
        book.grant_credits(admin, acme, "10", description="promo", kind="promotional",
                           expires_at=book.now() + timedelta(days=30))
        book.grant_credits(admin, beta, "1", description="promo", kind="promotional")
        book.grant_credits(admin, beta, "10", description="bought")
        books.append((book, admin, {"Acme": acme, "Beta": beta}))
    one, batch = books
    for space, amount in events:
        one[0].consume(one[1], one[2][space], amount, feature="AI", description="d")
    frame = pd.DataFrame({"workspace": [e[0] for e in events], "amount": [e[1] for e in events],
                          "feature": ["AI"] * len(events), "description": ["d"] * len(events),
                          "occurred_at": [batch[0].now()] * len(events)})
    assert batch[0].consume_many(batch[1], frame).posted == len(events)
    traces = []
    for book, admin, spaces in books:
        checked(book)
        trace = []
        for name in ("Acme", "Beta"):
            debits = [t for t in reversed(book.history(admin, spaces[name], limit=50).items)
                      if t.kind is EntryKind.DEBIT]
            trace.append([(t.amount, sorted(drawn(book, admin, t.id).values())) for t in debits])
        traces.append(trace)
    assert traces[0] == traces[1]
    assert any(len(pieces) == 2 for _, pieces in traces[1][1])  # Beta: a debit split across grants
    assert all(len(pieces) == 1 for _, pieces in traces[1][0])  # Acme: the promo pays for all
