"""Priced ingest of other systems' exports: `consume_many(..., unit=...)`, `billing ingest
FILE --columns ... --unit` and `--preset litellm`, on a LiteLLM-format spend log these
tests generate; workspaces matched by id, name or external id."""

from __future__ import annotations

import csv
from datetime import date, datetime
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import billing_core
from billing_core import InvalidInput, Ledger
from billing_core.cli import main
from tests.conftest import fund
from tests.litellm_log import COLUMNS, litellm_rows, spend_total

FOUNDED = datetime(2025, 1, 1)
DAY = datetime(2026, 11, 26)  # the day of the generated calls, before the FakeClock's now
CREDITS_PER_USD = Decimal(100)


def _backdate(book: Ledger) -> None:
    with book.db.writing() as cur:
        cur.execute("UPDATE workspaces SET created_at = ?", [FOUNDED])


def _as_ledger_columns(log: pa.Table) -> pa.Table:
    """The log as --preset litellm reads it: the gateway's columns renamed to the ledger's."""
    names = {"team_id": "workspace", "startTime": "occurred_at", "model": "feature",
             "request_id": "idempotency_key", "spend": "quantity"}
    return log.rename_columns([names.get(c, c) for c in log.column_names])


@pytest.fixture
def teams(ledger: Ledger, people) -> dict[str, int]:  # type: ignore[no-untyped-def]
    admin = people["admin"]
    ids = {}
    for space, team in ((people["acme"], "team-acme-7f3a"), (people["beta"], "team-beta-01c9")):
        fund(ledger, admin, space.id, "100000")
        ledger.link_workspace(admin, space.id, team)
        ids[team] = space.id
    _backdate(ledger)
    ledger.set_price(admin, "*", "usd", CREDITS_PER_USD, effective_from=date(2026, 1, 1))
    return ids


def test_a_litellm_log_is_priced_and_matched_by_team(ledger: Ledger, people, teams) -> None:
    admin = people["admin"]
    log = litellm_rows(400, teams=list(teams), start=DAY)
    result = ledger.consume_many(admin, _as_ledger_columns(log), unit="usd")
    assert (result.posted, result.rejected_count, result.skipped_duplicates) == (400, 0, 0)
    exact = spend_total(log) * CREDITS_PER_USD
    assert exact - Decimal("0.0002") < result.total_posted <= exact  # a remainder per pair stays carried
    for team, space in teams.items():
        calls = log.filter(pa.compute.equal(log.column("team_id"), team))
        per_model = {}
        for model, spend in zip(calls.column("model").to_pylist(), calls.column("spend").to_pylist(),
                                strict=True):
            per_model[model] = per_model.get(model, Decimal(0)) + Decimal(spend) * CREDITS_PER_USD
        items = ledger.history(admin, space, limit=500).items
        for model, owed in per_model.items():
            charged = sum(t.amount for t in items if t.feature == model)
            assert charged == owed.quantize(Decimal("0.0001"), rounding=ROUND_DOWN)
        assert {t.unit for t in items if t.kind == "debit"} == {"usd"}
    again = ledger.consume_many(admin, _as_ledger_columns(log), unit="usd")
    assert (again.posted, again.skipped_duplicates) == (0, 400)  # idempotent by request_id
    ledger.verify()


def test_priced_ingest_charges_what_consume_usage_would(new_ledger, people) -> None:  # type: ignore[no-untyped-def]
    """The same events through consume_usage one by one and through one priced batch,
    including a workspace that runs out part-way: the same debits, the same remainders."""
    books = [new_ledger(), new_ledger()]
    setups = []
    for book in books:
        admin = book.add_user("ada@example.com", "Ada", admin=True)
        rich, poor = book.create_workspace("Rich"), book.create_workspace("Poor")
        fund(book, admin, rich.id, "1000")
        fund(book, admin, poor.id, "0.05")
        _backdate(book)
        book.set_price(admin, "*", "token", "0.0000123457", effective_from=date(2026, 1, 1))
        book.set_price(admin, "big", "token", "0.001", effective_from=date(2026, 1, 1))
        setups.append((admin, rich, poor))
    events = []
    for i in range(60):
        space = "Rich" if i % 3 else "Poor"
        feature = "big" if i % 7 == 0 else "small"
        events.append((space, feature, 10 + (i * 37) % 900, datetime(2026, 11, 26, 10, i)))
    admin, rich, poor = setups[0]
    ids = {"Rich": rich.id, "Poor": poor.id}
    for space, feature, tokens, at in events:
        try:
            books[0].consume_usage(admin, ids[space], feature, tokens, unit="token", description="d",
                                   occurred_at=at)
        except billing_core.InsufficientCredits:
            pass
    frame = pd.DataFrame({"workspace": [e[0] for e in events], "feature": [e[1] for e in events],
                          "quantity": [str(e[2]) for e in events], "occurred_at": [e[3] for e in events]})
    result = books[1].consume_many(setups[1][0], frame, unit="token")
    assert result.rejected_count > 0 and set(result.rejected["reason"]) == {"insufficient credits"}
    for book in books:
        book.verify()
    amounts = [
        [(t.feature, t.amount, t.quantity) for t in book.history(who, s.id, limit=500).items
         if t.kind == "debit"]
        for book, (who, *spaces) in zip(books, setups, strict=True) for s in spaces
    ]
    assert amounts[0] == amounts[2] and amounts[1] == amounts[3]
    remainders = []
    for book in books:
        with book.db.reading() as cur:
            remainders.append(cur.execute(
                "SELECT workspace_id, feature, remainder FROM usage_remainders ORDER BY 1, 2").fetchall())
    assert remainders[0] == remainders[1]


def test_tokens_priced_per_thousand_are_ingested_as_consume_usage_charges_them(  # type: ignore[no-untyped-def]
    new_ledger, people
) -> None:
    """Usage counted in tokens, a rate card per thousand tokens for one feature (changing to
    a price per token part-way) and per token by default: one batch charges, records and
    carries exactly what consume_usage does event by event; a token count too fine to
    price per thousand is refused with its reason, in both."""
    books = [new_ledger(), new_ledger()]
    setups = []
    for book in books:
        admin = book.add_user("ada@example.com", "Ada", admin=True)
        space = book.create_workspace("Acme")
        fund(book, admin, space.id, "100000")
        _backdate(book)
        book.set_price(admin, "*", "token", "0.0000123457", effective_from=date(2026, 1, 1))
        book.set_price(admin, "AI chat", "1k_tokens", "2.5", effective_from=date(2026, 1, 1))
        book.set_price(admin, "AI chat", "token", "0.003", effective_from=datetime(2026, 11, 26, 10, 30))
        setups.append((admin, space))
    events = [("AI chat" if i % 3 else "Search", str(10 + (i * 37) % 900), datetime(2026, 11, 26, 10, i))
              for i in range(50)]
    events.append(("AI chat", "1.000001", datetime(2026, 11, 26, 10, 5)))
    admin, space = setups[0]
    refused = []
    for feature, tokens, at in events:
        try:
            books[0].consume_usage(admin, space.id, feature, tokens, unit="token", description="d",
                                   occurred_at=at)
        except billing_core.InvalidAmount:
            refused.append(tokens)
    frame = pd.DataFrame({"workspace": ["Acme"] * len(events), "feature": [e[0] for e in events],
                          "quantity": [e[1] for e in events], "occurred_at": [e[2] for e in events]})
    result = books[1].consume_many(setups[1][0], frame, unit="token")
    assert refused == ["1.000001"]
    assert result.rejected["reason"].tolist() == [
        "quantity too fine to price per thousand tokens (at most 5 decimal places)"
    ]
    debits = [
        [(t.feature, t.amount, t.quantity, t.unit, t.rate) for t in book.history(who, s.id, limit=500).items
         if t.kind == "debit"]
        for book, (who, s) in zip(books, setups, strict=True)
    ]
    assert debits[0] == debits[1]
    assert {(f, u) for f, _, _, u, _ in debits[0]} == {("AI chat", "1k_tokens"), ("AI chat", "token"),
                                                       ("Search", "token")}
    remainders = []
    for book in books:
        book.verify()
        with book.db.reading() as cur:
            remainders.append(cur.execute(
                "SELECT workspace_id, feature, remainder FROM usage_remainders ORDER BY 1, 2").fetchall())
    assert remainders[0] == remainders[1]


def test_rejects_say_why_for_each_row(ledger: Ledger, people, teams) -> None:
    admin = people["admin"]
    ledger.set_price(admin, "late-model", "usd", "200", effective_from=date(2026, 11, 1))
    frame = pd.DataFrame({
        "workspace": ["team-acme-7f3a", "no-such-team", "team-acme-7f3a", "team-acme-7f3a", "Beta",
                      "team-acme-7f3a", "team-acme-7f3a", str(teams["team-beta-01c9"])],
        "feature": ["gpt-4o", "gpt-4o", "gpt-4o", "gpt-4o", "gpt-4o", "gpt-4o", "x", "gpt-4o"],
        "quantity": ["0.00012345", "1", "-0.5", "abc", "0", "1", "1", "0.1"],
        "occurred_at": ["2026-11-26 10:00:00.000000"] * 5 + ["2030-01-01", "2026-11-26", "2026-11-26"],
    })
    result = ledger.consume_many(admin, frame, unit="usd")
    assert result.rejected.to_dict("list") == {
        "row": [1, 2, 3, 4, 5],
        "workspace": ["no-such-team", "team-acme-7f3a", "team-acme-7f3a", "Beta", "team-acme-7f3a"],
        "amount": ["1", "-0.5", "abc", "0", "1"],
        "reason": [
            "unknown workspace",
            "quantity is negative",
            "quantity is not a plain number",
            "quantity is zero (nothing to charge)",
            "occurred_at is in the future (more than 5 minutes ahead of the ledger's clock)",
        ],
    }
    assert result.posted == 3  # by external id, by feature "x" under "*", by numeric id
    ledger.set_price(admin, "*", "token", "1", effective_from=date(2026, 11, 1))
    early = pd.DataFrame({"workspace": ["Acme"], "feature": ["AI chat"], "quantity": ["5"],
                          "occurred_at": ["2026-10-31"]})
    assert ledger.consume_many(admin, early, unit="token").rejected["reason"].tolist() == [
        "no price for the feature at that time"
    ]


def test_a_unit_needs_a_quantity_column(ledger: Ledger, people) -> None:
    with pytest.raises(InvalidInput, match="quantity"):
        ledger.consume_many(people["admin"], pd.DataFrame({"workspace": [1], "amount": ["1"],
                            "feature": ["f"], "occurred_at": ["2026-11-26"]}), unit="usd")


# -------------------------------------------------------------------------------- CLI
def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "ledger.duckdb")
    with billing_core.open_ledger(path, create=True) as book:
        admin = book.system_user()
        for name, amount in (("Acme", "1000"), ("Beta", "0.01")):
            space = book.create_workspace(name)
            book.grant_credits(admin, space.id, amount, description="funding")
        _backdate(book)
    return path


def _write_log(path: Path, log: pa.Table) -> None:
    pacsv.write_csv(log, str(path), write_options=pacsv.WriteOptions(quoting_style="needed"))


def test_cli_ingests_a_litellm_log_in_three_commands(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's three commands: a price, a team's link, the ingest."""
    log = litellm_rows(300, teams=["team-acme-7f3a", "team-unknown"], start=DAY)
    source = tmp_path / "LiteLLM_SpendLogs.csv"
    _write_log(source, log)
    assert tuple(pd.read_csv(source, nrows=0).columns) == COLUMNS
    code, out, err = _run(capsys, "prices", "set", "*", "usd", "100", "--from", "2026-01-01", "--db", db)
    assert code == 0, err
    assert out == "*: 100 credits per usd from 2026-01-01 00:00 UTC (price 1).\n"
    code, out, err = _run(capsys, "workspace", "link", "Acme", "--external-id", "team-acme-7f3a", "--db", db)
    assert code == 0 and "external id team-acme-7f3a" in out
    code, out, err = _run(capsys, "ingest", str(source), "--preset", "litellm", "--db", db)
    assert code == 0, err
    assert "300 rows, 150 posted" in out and "150 rejected" in out
    rejects = pd.read_csv(f"{source}.rejects.csv", dtype=str)
    assert list(rejects.columns) == ["row", "workspace", "quantity", "reason"]
    assert set(rejects["reason"]) == {"unknown workspace"} and set(rejects["workspace"]) == {"team-unknown"}
    code, out, _ = _run(capsys, "history", "Acme", "--limit", "1", "--db", db)
    assert "gpt-4o" in out or "claude" in out or "embedding" in out
    code, out, _ = _run(capsys, "prices", "list", "--db", db)
    assert out.startswith("*") and "in effect" in out
    assert _run(capsys, "verify", "--db", db)[0] == 0


def test_cli_maps_any_columns_with_a_unit(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "usage.csv"
    with open(source, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["who", "when", "what", "tokens", "id"])
        writer.writerow(["acme", "2026-11-26T10:00:00Z", "AI chat", "1000", "r1"])
        writer.writerow(["1", "2026-11-26T10:01:00Z", "AI chat", "500", "r2"])
    assert _run(capsys, "prices", "set", "AI chat", "1k_tokens", "9", "--db", db)[0] == 0  # another unit
    _run(capsys, "prices", "set", "AI chat", "token", "0.002", "--from", "2026-11-01", "--db", db)
    code, out, err = _run(
        capsys, "ingest", str(source), "--db", db, "--unit", "token",
        "--columns", "workspace=who,occurred_at=when,feature=what,quantity=tokens,idempotency_key=id",
    )
    assert code == 0, err
    assert out.startswith(f"Ingested {source}: 2 rows, 2 posted (3.00 en-credits)")
    code, _, err = _run(capsys, "ingest", str(source), "--db", db, "--columns", "workspace=nope")
    assert code == 1 and "has no column nope" in err
    code, _, err = _run(capsys, "ingest", str(source), "--db", db, "--columns", "quantity=tokens")
    assert code == 1 and "needs --unit" in err


def test_typed_quantities_are_read_exactly(ledger: Ledger, people, teams) -> None:
    """Decimal and integer columns (a Parquet export's) are cast exactly, tiny spends too;
    a float column is refused as a whole."""
    admin = people["admin"]
    base = {"workspace": ["Acme", "Acme", "Beta"], "feature": ["m"] * 3,
            "occurred_at": pa.array([DAY] * 3, pa.timestamp("us"))}
    spend = pa.array([Decimal("0.00000065"), Decimal("1.5"), Decimal("-2")], pa.decimal128(18, 10))
    result = ledger.consume_many(admin, pa.table(base | {"quantity": spend}), unit="usd")
    assert result.posted == 2 and result.rejected["reason"].tolist() == ["quantity is negative"]
    integers = pa.table(base | {"quantity": pa.array([1, 2, 3], pa.int64())})
    whole = ledger.consume_many(admin, integers, unit="usd")
    assert whole.total_posted == Decimal(600)
    with pytest.raises(billing_core.InvalidAmount, match="floating-point"):
        ledger.consume_many(admin, pa.table(base | {"quantity": pa.array([0.1, 0.2, 0.3])}), unit="usd")


usage_events = st.lists(
    st.tuples(st.sampled_from(["Acme", "Beta"]), st.sampled_from(["gpt-4o", "claude"]),
              st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal(5), places=8)),
    min_size=1, max_size=40,
)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=usage_events, cuts=st.lists(st.integers(0, 40), max_size=3))
def test_over_any_batches_the_debits_sum_to_the_exact_total_rounded_once(
    new_ledger, events: list[tuple[str, str, Decimal]], cuts: list[int]
) -> None:  # type: ignore[no-untyped-def]
    book = new_ledger()
    admin = book.add_user("ada@example.com", "Ada", admin=True)
    spaces = {name: book.create_workspace(name) for name in ("Acme", "Beta")}
    for space in spaces.values():
        fund(book, admin, space.id, "100000")
    _backdate(book)
    book.set_price(admin, "*", "usd", "123.4567891234", effective_from=date(2026, 1, 1))
    frame = pd.DataFrame({
        "workspace": [e[0] for e in events], "feature": [e[1] for e in events],
        "quantity": [f"{e[2]:f}" for e in events],  # plain text, as an export writes it
        "occurred_at": [datetime(2026, 11, 26, 0, i) for i in range(len(events))],
    })
    edges = sorted({0, len(events), *(c for c in cuts if c < len(events))})
    for start, stop in zip(edges, edges[1:], strict=False):
        assert book.consume_many(admin, frame.iloc[start:stop], unit="usd").posted == stop - start
    rate = Decimal("123.4567891234")
    for name, space in spaces.items():
        items = book.history(admin, space.id, limit=100).items
        for feature in ("gpt-4o", "claude"):
            exact = sum((q * rate for w, f, q in events if (w, f) == (name, feature)), Decimal(0))
            charged = sum((t.amount for t in items if t.feature == feature), Decimal(0))
            assert charged == exact.quantize(Decimal("0.0001"), rounding=ROUND_DOWN)
    book.verify()
