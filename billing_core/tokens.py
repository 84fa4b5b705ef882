"""Secrets handed to a browser or a person: session tokens and password links.

A token reads `<id>.<secret>`: the id names its row (a session, a link), the secret is
256 random bits (43 URL-safe characters). The ledger stores only the secret's SHA-256;
a token is checked by loading its row by id and comparing the digests in constant time,
so a stolen table yields no usable token and no guess is told how close it came.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

SECRET_BYTES = 32  # 256 bits
_TOKEN = re.compile(r"([1-9][0-9]{0,17})\.([A-Za-z0-9_-]{43})")


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def new_token(row_id: int) -> tuple[str, str]:
    """(the token to hand out, the digest to store) for the row `row_id`."""
    secret = secrets.token_urlsafe(SECRET_BYTES)
    return f"{row_id}.{secret}", digest(secret)


def parse(token: object) -> tuple[int, str] | None:
    """(row id, secret) of a well-formed token; None for anything else."""
    if not isinstance(token, str):
        return None
    found = _TOKEN.fullmatch(token.strip())
    if found is None:
        return None
    return int(found.group(1)), found.group(2)


def matches(stored_digest: object, secret: str) -> bool:
    """Whether `secret` is the one whose digest was stored (constant time)."""
    if not isinstance(stored_digest, str):
        return False
    return hmac.compare_digest(stored_digest.encode("ascii"), digest(secret).encode("ascii"))
