"""What only the PostgreSQL store has to get right: several Ledgers (processes) on one
database, the server's own guards, and its errors."""

from __future__ import annotations

import threading
from decimal import Decimal

import psycopg
import pytest

import billing_core
from billing_core import BillingError, LedgerUnavailable, PermissionDenied
from tests.conftest import PostgresForTests, fund


@pytest.fixture
def url(postgres: PostgresForTests) -> object:
    name, url = postgres.fresh()
    yield url
    postgres.drop(name)


def test_a_directory_change_in_one_process_is_seen_by_another_at_once(url: str) -> None:
    one, two = billing_core.open_ledger(url), billing_core.open_ledger(url)
    try:
        admin = one.add_user("ada@example.com", "Ada", admin=True)
        space = one.create_workspace("Acme")
        alice = one.add_user("alice@example.com", "Alice")
        with pytest.raises(PermissionDenied):
            two.wallet(alice, space.id)  # `two` has cached the directory by now
        one.add_member(space.id, alice.id)
        assert two.wallet(alice, space.id).workspace_name == "Acme"
        assert two.user_by_email("ada@example.com") == admin
    finally:
        one.close()
        two.close()


def test_one_key_sent_through_two_processes_at_once_debits_once(url: str) -> None:
    one, two = billing_core.open_ledger(url), billing_core.open_ledger(url)
    try:
        admin = one.add_user("ada@example.com", "Ada", admin=True)
        space = one.create_workspace("Acme").id
        fund(one, admin, space, "1000")
        rounds = 300

        def send(book: billing_core.Ledger, key: str, barrier: threading.Barrier, got: list[object]) -> None:
            barrier.wait()
            try:
                entry = book.consume(admin, space, "1", feature="AI", description="x", idempotency_key=key)
                got.append(entry.id)
            except BillingError as error:
                got.append(error)

        for round_ in range(rounds):
            barrier = threading.Barrier(2)
            got: list[object] = []
            threads = [
                threading.Thread(target=send, args=(book, f"k{round_}", barrier, got)) for book in (one, two)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert len(set(got)) == 1 and isinstance(got[0], int), got  # both told the same entry
        assert one.wallet(admin, space).balance == Decimal(1000 - rounds)
        one.verify()
    finally:
        one.close()
        two.close()


def test_the_server_refuses_to_rewrite_the_journal_whoever_connects(url: str) -> None:
    with billing_core.open_ledger(url) as ledger:
        admin = ledger.add_user("ada@example.com", "Ada", admin=True)
        space = ledger.create_workspace("Acme").id
        fund(ledger, admin, space, "10")
        for statement in (
            "UPDATE entries SET amount = 1000",
            "DELETE FROM postings",
            "DELETE FROM audit_log",
            "UPDATE idempotency_keys SET amount = 0",
        ):
            with pytest.raises(BillingError, match="append-only"), ledger.db.writing() as cur:
                cur.execute(statement)
        ledger.verify()
        assert ledger.wallet(admin, space).balance == Decimal(10)


def test_an_unreachable_server_is_a_clear_error_without_the_password() -> None:
    with pytest.raises(LedgerUnavailable) as refused:
        billing_core.open_ledger("postgresql://billing:s3cret@127.0.0.1:1/billing?connect_timeout=2")
    assert "could not be reached" in str(refused.value)
    assert "s3cret" not in str(refused.value)


def test_percent_signs_and_question_marks_in_text_are_data(url: str) -> None:
    with billing_core.open_ledger(url) as ledger:
        admin = ledger.add_user("ada@example.com", "Ada", admin=True)
        space = ledger.create_workspace("50% off? Yes").id
        fund(ledger, admin, space, "10")
        ledger.consume(admin, space, "1", feature="AI %s", description="100% sure? %(x)s ?")
        page = ledger.history(admin, space, search="100% sure?")
        assert [t.description for t in page.items] == ["100% sure? %(x)s ?"]
        assert ledger.find_workspace(admin, "50% off? yes").id == space


def test_one_key_for_two_workspaces_from_two_processes_debits_each_once(url: str) -> None:
    """Different wallets are locked independently, so both processes store the key at the
    same instant: a key belongs to its workspace, so both debits stand, each once."""
    one, two = billing_core.open_ledger(url), billing_core.open_ledger(url)
    try:
        admin = one.add_user("ada@example.com", "Ada", admin=True)
        spaces = [one.create_workspace(name).id for name in ("Acme", "Beta")]
        for space in spaces:
            fund(one, admin, space, "1000")
        outcomes: list[str] = []
        for round_ in range(100):
            barrier = threading.Barrier(2)
            got: list[object] = []

            def send(book: billing_core.Ledger, space: int, key: str, barrier: threading.Barrier,
                     got: list[object]) -> None:
                barrier.wait()
                try:
                    got.append(book.consume(admin, space, "1", feature="AI", description="x",
                                            idempotency_key=key))
                except BillingError as error:
                    got.append(error)

            threads = [
                threading.Thread(target=send, args=(book, space, f"k{round_}", barrier, got))
                for book, space in ((one, spaces[0]), (two, spaces[1]))
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            kinds = sorted(type(g).__name__ for g in got)
            assert kinds == ["Transaction", "Transaction"], got
            outcomes += kinds
        assert [one.wallet(admin, s).balance for s in spaces] == [Decimal(900), Decimal(900)]
        one.verify()
    finally:
        one.close()
        two.close()


def test_an_ingest_that_meets_another_process_storing_its_key_is_decided_again(url: str) -> None:
    """Process two is storing key K of Acme (a raw write that does not take Acme's wallet
    lock, as a writer's would) while process one ingests an Acme event with K: one's write
    of K waits on the key's index entry, fails when two commits, and the batch is decided
    again, now refusing K as reused for a different charge, instead of failing."""
    import time

    from tests.unit.test_ingest import backdate, events

    one, two = billing_core.open_ledger(url), billing_core.open_ledger(url)
    try:
        admin = one.add_user("ada@example.com", "Ada", admin=True)
        acme = one.create_workspace("Acme").id
        backdate(one)
        fund(one, admin, acme, "100")
        result: list[object] = []
        with two.db.writing() as cur:  # two's write of K, not yet committed
            cur.execute(
                "INSERT INTO idempotency_keys (key, entry_id, workspace_id, amount, feature) "
                "VALUES ('K', 999, ?, 1, 'AI')",
                [acme],
            )
            batch = events(("Acme", "2", "AI", 0), ("Acme", "3", "AI", 1), keys=["K", "other"])
            worker = threading.Thread(target=lambda: result.append(one.consume_many(admin, batch)))
            worker.start()
            # one has decided the batch without K and waits on K's index entry (two's lock)
            with psycopg.connect(url, autocommit=True) as watcher:
                deadline = time.monotonic() + 60
                while not watcher.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                ).fetchone()[0]:  # type: ignore[index]
                    assert time.monotonic() < deadline, "one never waited on two's key"
                    time.sleep(0.02)
        worker.join(timeout=30)
        [outcome] = result
        assert outcome.posted == 1 and outcome.rejected_count == 1, outcome  # type: ignore[attr-defined]
        assert "different" in outcome.rejected["reason"][0]  # type: ignore[attr-defined]
        assert one.wallet(admin, acme).balance == Decimal(97)
    finally:
        one.close()
        two.close()


def test_connections_the_server_dropped_are_replaced_without_an_error(url: str) -> None:
    """After a server restart or failover every pooled connection is dead: the next calls
    get fresh connections instead of failing."""
    import psycopg

    with billing_core.open_ledger(url) as ledger:
        admin = ledger.add_user("ada@example.com", "Ada", admin=True)
        space = ledger.create_workspace("Acme").id
        fund(ledger, admin, space, "10")
        ledger.consume(admin, space, "1", feature="AI", description="before")
        with psycopg.connect(url, autocommit=True) as other:
            other.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        assert ledger.wallet(admin, space).balance == Decimal(9)
        ledger.consume(admin, space, "1", feature="AI", description="after")
        assert ledger.wallet(admin, space).balance == Decimal(8)


def test_an_empty_database_becomes_a_ledger_only_through_init(postgres: PostgresForTests) -> None:
    name = f"bare_{threading.get_ident()}"
    url = postgres.server.create_database(name)
    try:
        with pytest.raises(LedgerUnavailable, match="billing init"):
            billing_core.open_ledger(url)
        with psycopg.connect(url) as conn:
            assert conn.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
            ).fetchone() == (0,)
        with billing_core.open_ledger(url, create=True) as ledger:
            assert not ledger.has_data()
        billing_core.open_ledger(url).close()  # a ledger now
    finally:
        postgres.server.drop_database(name)


def test_another_programs_database_is_refused_and_left_untouched(postgres: PostgresForTests) -> None:
    name = f"other_{threading.get_ident()}"
    url = postgres.server.create_database(name)
    try:
        with psycopg.connect(url) as conn:
            conn.execute("CREATE TABLE customers (id INTEGER)")
        for create in (False, True):
            with pytest.raises(LedgerUnavailable, match="another program's database"):
                billing_core.open_ledger(url, create=create)
        with psycopg.connect(url) as conn:
            tables = conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            ).fetchall()
        assert tables == [("customers",)]
    finally:
        postgres.server.drop_database(name)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("SELECT ? , ?", "SELECT %s , %s"),
        ("SELECT '?' AS q, ?", "SELECT '?' AS q, %s"),
        ("SELECT 'it''s ?' , ?", "SELECT 'it''s ?' , %s"),
        ('SELECT "odd?name" FROM t WHERE a = ?', 'SELECT "odd?name" FROM t WHERE a = %s'),
        ("SELECT 1 -- why?\nWHERE a = ?", "SELECT 1 -- why?\nWHERE a = %s"),
        ("SELECT /* ? */ ?", "SELECT /* ? */ %s"),
        ("SELECT $$ ? $$, $tag$ ?$x $tag$, ?", "SELECT $$ ? $$, $tag$ ?$x $tag$, %s"),
        ("SELECT x LIKE '5%' AND y = $name", "SELECT x LIKE '5%%' AND y = %(name)s"),
    ],
)
def test_placeholders_are_translated_outside_literals_only(query: str, expected: str) -> None:
    from billing_core.store_postgres import pg_sql

    assert pg_sql(query) == expected


def test_a_question_mark_in_a_literal_is_data_on_the_server(url: str) -> None:
    with billing_core.open_ledger(url) as ledger, ledger.db.reading() as cur:
        assert cur.execute("SELECT 'why?' , ?", ["yes"]).fetchone() == ("why?", "yes")
