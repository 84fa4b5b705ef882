"""The audit trail: one append-only row per state change, naming who and when."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from .models import AuditRecord
from .store import Database, as_utc


def _dump(value: dict[str, object] | None) -> str | None:
    return None if value is None else json.dumps(value, default=str, ensure_ascii=False)


def record(
    db: Database,
    cur: Any,
    *,
    at: datetime,
    actor_id: int,
    action: str,
    subject: str,
    workspace_id: int | None,
    before: dict[str, object] | None,
    after: dict[str, object] | None,
) -> None:
    cur.execute(
        """
        INSERT INTO audit_log (id, recorded_at, actor_id, action, subject, workspace_id, before, after)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        """,
        [
            db.next_id("audit_log"),
            at,
            actor_id,
            action,
            subject,
            workspace_id,
            _dump(before),
            _dump(after),
        ],
    )


def rows_to_records(rows: list[tuple[Any, ...]]) -> list[AuditRecord]:
    return [
        AuditRecord(
            id=r[0],
            at=as_utc(r[1]),
            actor_id=r[2],
            action=r[3],
            subject=r[4],
            workspace_id=r[5],
            before=r[6],
            after=r[7],
        )
        for r in rows
    ]
