"""Usage in units beside credits: what priced usage (`consume_usage`, priced ingest) counted,
by workspace, feature (a gateway's model), unit and member. A read for a screen: plain
SQL over the entries that carry a quantity, scoped to what the viewer may see."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from .access import Access
from .analytics import _SCOPE, _check_range, _scope
from .models import User
from .store import Database

_USAGE = f"""
    SELECT r.workspace_id, w.name AS workspace, r.feature, r.unit, u.name AS member,
           CAST(sum(r.quantity) AS DECIMAL(38,4)) AS quantity, sum(r.amount) AS credits,
           count(*) AS uses
    FROM entries r JOIN workspaces w ON w.id = r.workspace_id
    LEFT JOIN users u ON u.id = r.actor_id
    WHERE r.kind = 'debit' AND r.quantity IS NOT NULL AND r.created_at >= ? AND r.created_at < ?
      AND {_SCOPE}
    GROUP BY r.workspace_id, w.name, r.feature, r.unit, u.name
    ORDER BY w.name, r.feature, r.unit, u.name
"""


def usage_by_feature(
    db: Database, access: Access, actor: User, start: date, end: date, workspace_id: int | None = None
) -> pd.DataFrame:
    """Columns workspace_id, workspace, feature, unit, member, quantity (in `unit`),
    credits, uses: one row per workspace, feature, unit and member, over the days."""
    _check_range(start, end)
    see_all, user_id, ws = _scope(access, actor, workspace_id)
    return db.frame(_USAGE, [start, end + timedelta(days=1), see_all, user_id, ws, ws])
