"""Spend analytics for charts: tidy pandas DataFrames, read from the daily rollups
(rows per workspace, feature and day; and per workspace and day, feature NULL: totals).

Amounts stay exact: money columns are Arrow decimals (a cell reads as a Decimal);
the chart layer may cast them for drawing. Every function applies the same access rules as the ledger:
members see their workspaces, admins see all.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING, Decimal

import pandas as pd

from .access import Access
from .errors import InvalidInput
from .grants import with_expiries
from .models import BurnRate, User, WalletHealth, WalletStatus
from .money import QUANTUM, ZERO, to_decimal
from .store import Database

GRANULARITIES = ("day", "week", "month")
MAX_RANGE_DAYS = 3_660
LOW_BALANCE_DAYS = 14  # a wallet that runs out within this many days is low


def _check_range(start: date, end: date) -> None:
    if not isinstance(start, date) or not isinstance(end, date):
        raise InvalidInput("Choose a start and an end date.")
    if isinstance(start, datetime) or isinstance(end, datetime):
        raise InvalidInput("Choose the range as dates (days), not times of day.")
    if end < start:
        raise InvalidInput("The end date must be on or after the start date.")
    if (end - start).days > MAX_RANGE_DAYS:
        raise InvalidInput("Choose a range of at most ten years.")


def _check_granularity(granularity: str) -> str:
    if granularity not in GRANULARITIES:
        raise InvalidInput("Group by day, week or month.")
    return granularity


def _period(unit: str) -> str:
    """SQL for the period a rollup day falls in (a day is its own period: no conversion)."""
    return "r.day" if unit == "day" else f"CAST(date_trunc('{unit}', r.day) AS DATE)"


def _scope(access: Access, actor: User, workspace_id: int | None) -> tuple[bool, int, int | None]:
    """(see_all, user_id, workspace_id) for the `_SCOPE` filter."""
    user = access.actor(actor)
    if workspace_id is not None:
        access.workspace(user, workspace_id)
    return user.is_admin, user.id, workspace_id


_SCOPE = """
    (? OR r.workspace_id IN (SELECT workspace_id FROM memberships WHERE user_id = ?))
    AND (? IS NULL OR r.workspace_id = ?)
"""


class Analytics:
    """Spend analytics, read from the daily rollups."""

    def __init__(self, db: Database, access: Access) -> None:
        self.db = db
        self.access = access

    def today(self) -> date:
        return self.db.clock().date()

    def spend_by_feature(
        self,
        actor: User,
        start: date,
        end: date,
        granularity: str = "day",
        workspace_id: int | None = None,
    ) -> pd.DataFrame:
        """Debits per period and feature: columns period, feature, spent, uses."""
        _check_range(start, end)
        unit = _check_granularity(granularity)
        see_all, user_id, ws = _scope(self.access, actor, workspace_id)
        return self.db.frame(
            f"""
            SELECT {_period(unit)} AS period, r.feature,
                   sum(r.debits) AS spent, sum(r.debit_count)::BIGINT AS uses
            FROM daily_rollups r
            WHERE r.day BETWEEN ? AND ? AND r.feature IS NOT NULL AND r.debit_count > 0 AND {_SCOPE}
            GROUP BY 1, 2 ORDER BY period, feature
            """,
            [start, end, see_all, user_id, ws, ws],
        )

    def spend_by_workspace(
        self, actor: User, start: date, end: date, granularity: str = "day"
    ) -> pd.DataFrame:
        """Debits per period and workspace: columns period, workspace_id, workspace, spent."""
        _check_range(start, end)
        unit = _check_granularity(granularity)
        see_all, user_id, ws = _scope(self.access, actor, None)
        return self.db.frame(
            f"""
            WITH spent AS (
                SELECT {_period(unit)} AS period, r.workspace_id, sum(r.debits) AS spent
                FROM daily_rollups r
                WHERE r.day BETWEEN ? AND ? AND r.feature IS NULL AND r.debit_count > 0 AND {_SCOPE}
                GROUP BY 1, 2
            )
            SELECT s.period, s.workspace_id, w.name AS workspace, s.spent
            FROM spent s JOIN workspaces w ON w.id = s.workspace_id
            ORDER BY s.period, workspace
            """,
            [start, end, see_all, user_id, ws, ws],
        )

    def credits_vs_debits(
        self,
        actor: User,
        start: date,
        end: date,
        granularity: str = "day",
        workspace_id: int | None = None,
    ) -> pd.DataFrame:
        """Columns period, kind ('credit' | 'debit' | 'expiry'), amount: a credit and a debit
        row per period, and an expiry row for a period in which unused credits expired
        (expiries are not spend: they are apart from the debits)."""
        _check_range(start, end)
        unit = _check_granularity(granularity)
        see_all, user_id, ws = _scope(self.access, actor, workspace_id)
        return self.db.frame(
            f"""
            WITH p AS (
                SELECT {_period(unit)} AS period,
                       sum(r.credits) AS credit, sum(r.debits) AS debit, sum(r.expired) AS expiry
                FROM daily_rollups r
                WHERE r.day BETWEEN ? AND ? AND r.feature IS NULL AND {_SCOPE}
                GROUP BY 1
            )
            SELECT period, 'credit' AS kind, credit AS amount FROM p
            UNION ALL
            SELECT period, 'debit' AS kind, debit AS amount FROM p
            UNION ALL
            SELECT period, 'expiry' AS kind, expiry AS amount FROM p WHERE expiry > 0
            ORDER BY period, kind
            """,
            [start, end, see_all, user_id, ws, ws],
        )

    def balance_over_time(self, actor: User, workspace_id: int, start: date, end: date) -> pd.DataFrame:
        """End-of-day balance for every day in the range: columns day, balance."""
        _check_range(start, end)
        self.access.workspace(actor, workspace_id)
        return self.db.frame(
            """
            WITH days AS (
                SELECT (CAST(? AS DATE) + CAST(g.i AS INTEGER))::DATE AS day
                FROM generate_series(0, ?) AS g(i)
            ),
            net AS (
                SELECT day, sum(credits - debits - expired) AS net FROM daily_rollups
                WHERE workspace_id = ? AND feature IS NULL GROUP BY day
            ),
            now_balance AS (SELECT balance FROM wallets WHERE workspace_id = ?)
            SELECT d.day,
                   (SELECT balance FROM now_balance)
                   - coalesce((SELECT sum(n.net) FROM net n WHERE n.day > d.day), 0)
                   AS balance
            FROM days d ORDER BY d.day
            """,
            [start, (end - start).days, workspace_id, workspace_id],
        )

    def burn_rate(self, actor: User, workspace_id: int, days: int = 30) -> BurnRate:
        """Average daily spend over the last `days` days and the day the balance runs out."""
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 366:
            raise InvalidInput("Measure the burn rate over 1 to 366 days.")
        today = self.today()
        with self.db.reading() as cur:
            self.access.workspace(actor, workspace_id)
            row = cur.execute(
                """
                SELECT w.balance,
                       coalesce((SELECT sum(debits) FROM daily_rollups
                                 WHERE workspace_id = ? AND feature IS NULL AND day > ? AND day <= ?), 0)
                FROM wallets w WHERE w.workspace_id = ?
                """,
                [workspace_id, today - timedelta(days=days), today, workspace_id],
            ).fetchone()
        assert row is not None
        balance, spent = to_decimal(row[0]), to_decimal(row[1])
        per_day = (spent / days).quantize(QUANTUM)
        return BurnRate(
            workspace_id=workspace_id,
            balance=balance,
            days=days,
            spent=spent,
            per_day=per_day,
            runs_out_on=run_out_date(balance, per_day, today),
        )

    def wallet_overview(self, actor: User, days: int = 30) -> pd.DataFrame:
        """Every visible wallet (archived workspaces left out): workspace_id, workspace,
        status, balance, spent (the last `days` days), pending (requested), per_day,
        runs_out_on (None: never, or inactive), days_left (until runs_out_on; missing when
        it is None), health (WalletHealth), and its grants' expiries: expiring_30d
        (credits whose grants expire within 30 days), next_expiry (the soonest; None: none
        expires), expires_unused (what the forecast expects to expire unused at `per_day`)
        and unused_from (the first such expiry)."""
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 366:
            raise InvalidInput("Measure the burn rate over 1 to 366 days.")
        today = self.today()
        see_all, user_id, _ = _scope(self.access, actor, None)
        frame = self.db.frame(
            """
            SELECT w.workspace_id, s.name AS workspace, w.status, w.balance,
                   coalesce(sp.spent, 0)::DECIMAL(18,4) AS spent,
                   coalesce(pr.pending, 0)::DECIMAL(18,4) AS pending
            FROM wallets w
            JOIN workspaces s ON s.id = w.workspace_id
            LEFT JOIN (SELECT workspace_id, sum(debits) AS spent FROM daily_rollups
                       WHERE feature IS NULL AND day > ? AND day <= ? GROUP BY workspace_id) sp
                   ON sp.workspace_id = w.workspace_id
            LEFT JOIN (SELECT workspace_id, sum(amount) AS pending FROM credit_requests
                       WHERE status = 'pending' GROUP BY workspace_id) pr
                   ON pr.workspace_id = w.workspace_id
            WHERE (? OR w.workspace_id IN
                   (SELECT workspace_id FROM memberships WHERE user_id = ?))
              AND s.archived_at IS NULL
            ORDER BY s.name_key
            """,
            [today - timedelta(days=days), today, see_all, user_id],
        )
        frame["per_day"] = [(to_decimal(s) / days).quantize(QUANTUM) for s in frame["spent"]]
        # An inactive wallet spends nothing until reactivated: no run-out date.
        frame["runs_out_on"] = [
            None if WalletStatus(status) is WalletStatus.INACTIVE else run_out_date(to_decimal(b), p, today)
            for b, p, status in zip(frame["balance"], frame["per_day"], frame["status"], strict=True)
        ]
        days_left = [None if d is None else (d - today).days for d in frame["runs_out_on"]]
        frame["days_left"] = pd.Series(days_left, index=frame.index, dtype="Int64")
        frame["health"] = pd.Series(
            [
                wallet_health(to_decimal(b), WalletStatus(s), d).value
                for b, s, d in zip(frame["balance"], frame["status"], days_left, strict=True)
            ],
            index=frame.index,
            dtype=object,
        )
        return with_expiries(self.db, frame)

    def top_consumers(
        self,
        actor: User,
        start: date,
        end: date,
        workspace_id: int | None = None,
        limit: int = 10,
    ) -> pd.DataFrame:
        """The people whose feature use spent the most: columns user, email, spent, uses."""
        _check_range(start, end)
        see_all, user_id, ws = _scope(self.access, actor, workspace_id)
        return self.db.frame(
            f"""
            SELECT u.name AS "user", u.email, sum(r.amount) AS spent, count(*) AS uses
            FROM entries r JOIN users u ON u.id = r.actor_id
            WHERE r.kind = 'debit' AND r.created_at >= ? AND r.created_at < ?
              AND {_SCOPE}
            GROUP BY u.id, u.name, u.email ORDER BY spent DESC, u.name LIMIT ?
            """,
            [start, end + timedelta(days=1), see_all, user_id, ws, ws, limit],
        )


def wallet_health(
    balance: Decimal, status: WalletStatus, days_left: int | None,
    low_days: int = LOW_BALANCE_DAYS,
) -> WalletHealth:
    """Zero balance, Inactive, Low balance (runs out within `low_days`) or OK."""
    if balance <= ZERO:
        return WalletHealth.ZERO_BALANCE
    if status is WalletStatus.INACTIVE:
        return WalletHealth.INACTIVE
    if days_left is not None and days_left <= low_days:
        return WalletHealth.LOW_BALANCE
    return WalletHealth.OK


def run_out_date(balance: Decimal, per_day: Decimal, today: date) -> date | None:
    """The day a balance reaches zero at `per_day`; today if it already has; None if never."""
    if balance <= ZERO:
        return today
    if per_day <= ZERO:
        return None
    days_left = int((balance / per_day).to_integral_value(rounding=ROUND_CEILING))
    if days_left > 36_500:
        return None
    return today + timedelta(days=days_left)
