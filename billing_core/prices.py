"""The rate card: versioned prices per feature and unit (`set_price`, `prices`), and the
price in effect for a usage event. Rows are appended, never edited: a new price for a
feature and unit applies from its `effective_from` on."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from . import audit
from .access import Access
from .audit import AuditAction
from .errors import InvalidInput
from .models import User
from .pricing import ANY_FEATURE, Price, Unit, parse_rate, parse_unit, priced_by
from .store import Database, as_utc
from .text import MAX_FEATURE, clean_name

COLUMNS = "id, feature, unit, credits_per_unit, effective_from, created_by, created_at"
_IN_EFFECT = f"""
    SELECT {COLUMNS} FROM prices
    WHERE feature IN (?, '{ANY_FEATURE}') AND unit IN (?, ?) AND effective_from <= ?
    ORDER BY feature = '{ANY_FEATURE}', effective_from DESC, unit <> ?, id DESC LIMIT 1
"""


def row_to_price(row: tuple[Any, ...]) -> Price:
    return Price(
        id=int(row[0]),
        feature=row[1],
        unit=Unit(row[2]),
        credits_per_unit=row[3],
        effective_from=as_utc(row[4]),
        created_by=int(row[5]),
        created_at=as_utc(row[6]),
    )


def moment(value: date | datetime | None, default: datetime) -> datetime:
    """A date (midnight UTC) or datetime as the ledger's naive UTC; None: `default`."""
    if value is None:
        return default
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    raise InvalidInput("Give the time as a date or a datetime.")


def feature_name(feature: object) -> str:
    return clean_name(feature, what="feature", limit=MAX_FEATURE)


class Prices:
    """The rate card."""

    def __init__(self, db: Database, access: Access) -> None:
        self.db = db
        self.access = access

    def set_price(
        self,
        actor: User,
        feature: str,
        unit: Unit | str,
        credits_per_unit: object,
        *,
        effective_from: date | datetime | None = None,
    ) -> Price:
        """Add a price (administrators): from `effective_from` (default now) on, `feature`
        ("*": every feature without its own price) costs `credits_per_unit` per `unit`.
        Earlier prices stay on the card and still price the usage of their time."""
        name = feature_name(feature)
        kind = parse_unit(unit)
        rate = parse_rate(credits_per_unit)
        with self.db.writing() as cur:
            user = self.access.admin(actor, "set prices")
            now = self.db.clock()
            start = moment(effective_from, now)
            price_id = self.db.next_id("prices")
            cur.execute(
                f"INSERT INTO prices ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [price_id, name, kind.value, rate, start, user.id, now],
            )
            audit.record(
                self.db,
                cur,
                at=now,
                actor_id=user.id,
                action=AuditAction.PRICE_SET,
                subject=f"price:{price_id}",
                workspace_id=None,
                before=None,
                after={
                    "feature": name,
                    "unit": kind.value,
                    "credits_per_unit": str(rate),
                    "effective_from": start.isoformat(),
                },
            )
        return Price(price_id, name, kind, rate, as_utc(start), user.id, as_utc(now))

    def prices(self, actor: User, *, at: date | datetime | None = None) -> list[Price]:
        """Signed-in users: the whole rate card with its history (every row, by feature,
        unit and effective_from), or with `at` only the prices in effect then."""
        self.access.actor(actor)
        with self.db.reading() as cur:
            rows = cur.execute(
                f"SELECT {COLUMNS} FROM prices ORDER BY feature, unit, effective_from, id"
            ).fetchall()
        card = [row_to_price(r) for r in rows]
        if at is None:
            return card
        when = as_utc(moment(at, self.db.clock()))
        latest: dict[tuple[str, Unit], Price] = {}
        for price in card:  # ascending: a later row for the same pair replaces an earlier one
            if price.effective_from <= when:
                latest[(price.feature, price.unit)] = price
        return list(latest.values())


def price_in_effect(cur: Any, feature: str, unit: Unit, at: datetime) -> Price | None:
    """The price in effect at `at` (naive UTC) for usage counted in `unit`: the feature's
    own, else the default ("*"), each the latest in `unit` or its twin (pricing.priced_by;
    pricing.price_in_effect is this over a card in memory)."""
    units = priced_by(unit)
    row = cur.execute(_IN_EFFECT, [feature, units[0].value, units[-1].value, at, unit.value]).fetchone()
    return None if row is None else row_to_price(row)
