"""The carried remainders of priced usage: per (workspace, feature), the part of a credit
below 0.0001 that the pair's priced usage owes so far (pricing.carry). Read and written
inside the transaction of the debits that change them, under their wallets' locks."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa

Pair = tuple[int, str]  # (workspace_id, feature)
REMAINDER = pa.decimal128(38, 18)
UPSERT = """
    INSERT INTO usage_remainders (workspace_id, feature, remainder, updated_at) VALUES {values}
    ON CONFLICT (workspace_id, feature)
    DO UPDATE SET remainder = excluded.remainder, updated_at = excluded.updated_at
"""


def load(cur: Any, pairs: Collection[Pair]) -> dict[Pair, Decimal]:
    """Each pair's carried remainder (0 for a pair with none yet)."""
    if not pairs:
        return {}
    rows = cur.execute(
        "SELECT workspace_id, feature, remainder FROM usage_remainders "
        "WHERE workspace_id IN (SELECT unnest(?::BIGINT[]))",
        [sorted({ws for ws, _ in pairs})],
    ).fetchall()
    found = {(int(r[0]), str(r[1])): Decimal(r[2]) for r in rows}
    return {pair: found.get(pair, Decimal(0)) for pair in pairs}


def store(cur: Any, remainders: Mapping[Pair, Decimal], at: datetime) -> None:
    """Write the pairs' new remainders (one statement)."""
    if not remainders:
        return
    items = sorted(remainders.items())
    values = ", ".join(["(?, ?, ?, ?)"] * len(items))
    params = [v for (ws, feature), left in items for v in (ws, feature, left, at)]
    cur.execute(UPSERT.format(values=values), params)
