from collections.abc import Callable
from pathlib import Path

import billing_core
from billing_core import Ledger, RequestStatus, WalletStatus
from billing_core.demo import seed_demo
from tests.conftest import DEMO_UNTIL


def test_demo_tells_the_product_story(demo_file: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "d.duckdb"
    shutil.copy(demo_file, copy)
    with billing_core.open_ledger(str(copy)) as ledger:
        report = ledger.verify()
        assert report.wallets == 6 and report.entries > 5_000
        admin = ledger.authenticate("ada@example.com", "en-credits-demo")
        assert admin.is_admin
        people = ledger.users(admin)
        assert len(people) == 25 and sum(u.is_admin for u in people) == 2
        wallets = {s.wallet.workspace_name: s.wallet for s in ledger.wallets(admin)}
        assert wallets["Umbrella Labs"].balance == 0
        assert wallets["Hooli Data"].status is WalletStatus.INACTIVE
        statuses = {r.status for r in ledger.requests(admin)}
        assert statuses == set(RequestStatus)
        for user in people:
            if not user.is_admin:
                assert 1 <= len(ledger.workspaces(user)) <= 3
        features = set(ledger.spend_by_feature(admin, DEMO_UNTIL.replace(month=6), DEMO_UNTIL)["feature"])
        assert {"AI chat", "AI summaries", "Image generation", "Exports"} <= features


def test_demo_is_deterministic_for_a_seed(new_ledger: Callable[..., Ledger]) -> None:
    def fingerprint(seed: int) -> list:
        with new_ledger() as ledger:
            seed_demo(ledger, workspaces=3, months=1, seed=seed, until=DEMO_UNTIL)
            with ledger.db.reading() as cur:
                return cur.execute(
                    "SELECT workspace_id, kind, amount, feature, created_at FROM entries ORDER BY id"
                ).fetchall()

    assert fingerprint(7) == fingerprint(7)
    assert fingerprint(7) != fingerprint(8)


def test_a_credit_after_the_demo_makes_a_grant_of_its_own(new_ledger: Callable[..., Ledger]) -> None:
    """The demo numbers its grants from 1 and takes those ids from the ledger, so a server's
    grant sequence is past them: the first credit after seeding makes a new grant."""
    with new_ledger() as ledger:
        seed_demo(ledger, workspaces=3, months=1, until=DEMO_UNTIL)
        admin = ledger.user_by_email("ada@example.com")
        assert admin is not None
        with ledger.db.reading() as cur:
            ((seeded,),) = cur.execute("SELECT max(id) FROM grants").fetchall()
        space = ledger.workspaces(admin)[0].id
        ledger.grant_credits(admin, space, "5", description="after the demo")
        assert max(g.id for g in ledger.grants(admin, space)) == seeded + 1
        ledger.verify()
