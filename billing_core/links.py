"""One-time links to set a password: an invitation, or a reset by an administrator.

A link carries a token (tokens.py); the ledger keeps its hash. Issuing a link for a
person voids the links they had not used yet, so only the newest works; using one
marks it used. A link is valid for `Settings.link_lifetime` (7 days by default).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from . import tokens
from .errors import InvalidInput
from .models import LinkPurpose
from .settings import Settings
from .store import Database

LINK_PAGE = "set-password"  # the console's page that redeems a link (pages/set_password.py)
NOT_VALID = (
    "This link cannot be used: it was used already, replaced by a newer one, or it expired. "
    "Ask an administrator for a new one."
)


def link_url(base_url: str | None, token: str) -> str | None:
    """The whole link, given the console's address (`http://host:8501`); None without it."""
    if not base_url:
        return None
    return f"{base_url.rstrip('/')}/{LINK_PAGE}?link={quote(token, safe='')}"


def issue_link(
    db: Database, cur: Any, *, user_id: int, purpose: LinkPurpose, by: int, settings: Settings
) -> tuple[int, str, datetime]:
    """(link id, token, expiry) of a new link for `user_id`, voiding their unused ones;
    inside the caller's write transaction, which audits it."""
    at = db.clock()
    cur.execute(
        "UPDATE password_links SET used_at = ? WHERE user_id = ? AND used_at IS NULL", [at, user_id]
    )
    link_id = db.next_id("password_links")
    token, hashed = tokens.new_token(link_id)
    expires = at + settings.link_lifetime
    cur.execute(
        """
        INSERT INTO password_links (id, user_id, purpose, token_hash, created_by, created_at, expires_at)
        VALUES (?, ?, ?, ?, ?, ?, ?)
        """,
        [link_id, user_id, purpose.value, hashed, by, at, expires],
    )
    return link_id, token, expires


def open_link(db: Database, cur: Any, token: object, *, lock: bool) -> tuple[int, int, LinkPurpose, datetime]:
    """(link id, user id, purpose, expiry) of a usable link (held until the transaction
    ends when `lock`); InvalidInput with one message for every other token."""
    parsed = tokens.parse(token)
    link_id, secret = parsed if parsed is not None else (0, "")
    sql = "SELECT user_id, token_hash, purpose, expires_at, used_at FROM password_links WHERE id = ?"
    rows = db.select_for_update(cur, sql, [link_id]) if lock else cur.execute(sql, [link_id]).fetchall()
    row = rows[0] if rows else None
    genuine = tokens.matches(row[1] if row else tokens.digest("x" * 43), secret)
    if row is None or parsed is None or not genuine or row[4] is not None or db.clock() >= row[3]:
        raise InvalidInput(NOT_VALID)
    return link_id, int(row[0]), LinkPurpose(row[2]), row[3]
