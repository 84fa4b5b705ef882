"""Validation of free text (descriptions, notes, names, emails) and of ids."""

from __future__ import annotations

import re

from .errors import InvalidInput

MAX_NOTE = 2_000
MAX_DESCRIPTION = 500
MAX_NAME = 200
MAX_FEATURE = 100
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def is_encodable(value: str) -> bool:
    """False for text with lone surrogates, which no database or browser can store."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def clean_text(value: object, *, what: str, limit: int, required: bool) -> str | None:
    """Strip surrounding space; refuse non-text, empty (when required) and overlong text.

    Text is stored verbatim otherwise: markup and unusual characters are the
    renderer's job to show as text, never the ledger's to rewrite.
    """
    if value is None:
        if required:
            raise InvalidInput(f"Enter a {what}.")
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"The {what} must be text.")
    if "\x00" in value:
        raise InvalidInput(f"The {what} cannot contain a NUL character.")
    if not is_encodable(value):
        raise InvalidInput(f"The {what} contains characters that are not valid text.")
    text = value.strip()
    if not text:
        if required:
            raise InvalidInput(f"Enter a {what}.")
        return None
    if len(text) > limit:
        raise InvalidInput(f"The {what} is too long: at most {limit:,} characters.")
    return text


def clean_email(value: object) -> str:
    text = clean_text(value, what="email address", limit=MAX_NAME, required=True)
    assert text is not None
    if not _EMAIL.fullmatch(text):
        raise InvalidInput(f"{text!r} is not an email address.")
    return text.lower()


def clean_limit(value: object, *, most: int) -> int:
    """A page size: a whole number from 1 to `most`."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
        raise InvalidInput(f"Ask for 1 to {most:,} rows at a time.")
    return value


def clean_id(value: object, *, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(f"{value!r} is not a valid {what} id.")
    return value
