"""Validation of free text (descriptions, notes, names, emails) and of ids."""

from __future__ import annotations

import re
import unicodedata

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


# Characters that change how text is drawn without being seen: controls (Cc), format
# characters (Cf: the bidi embeddings, overrides and isolates U+202A-U+202E and
# U+2066-U+2069, the marks U+200E, U+200F and U+061C, zero-width characters, the BOM,
# soft hyphens) and the line and paragraph separators.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
_LAYOUT = frozenset("\t\n\r")  # seen as layout in a description or note: kept as they are


def is_hidden(char: str) -> bool:
    """True for a character that is not drawn, or that reorders or hides the text around
    it (a right-to-left override shows "\u202eexe.live" as "evil.exe")."""
    return unicodedata.category(char) in _HIDDEN_CATEGORIES


def hidden_characters(text: str) -> list[str]:
    """The distinct hidden characters of `text`, in order of first appearance."""
    return list(dict.fromkeys(c for c in text if is_hidden(c)))


def code_point(char: str) -> str:
    return f"U+{ord(char):04X}"


def visible(text: str) -> str:
    """`text` with every hidden character shown as its code point (`<U+202E>`), so a
    description or note cannot reorder or hide what is drawn next to it; tabs, newlines
    and carriage returns are layout and stay. For display and exports only: the ledger
    keeps text verbatim."""
    if not any(is_hidden(c) for c in text):  # the common case, without building a string
        return text
    return "".join(
        f"<{code_point(c)}>" if is_hidden(c) and c not in _LAYOUT else c for c in text
    )


def clean_name(value: object, *, what: str, limit: int) -> str:
    """A name (of a workspace, a person, a feature): required text within `limit`, with no
    hidden characters, since a name is shown in tables, pickers and messages where a
    right-to-left override or a zero-width space would make one name pass for another."""
    text = clean_text(value, what=what, limit=limit, required=True)
    assert text is not None
    found = hidden_characters(text)
    if found:
        shown = ", ".join(code_point(c) for c in found[:3]) + (", ..." if len(found) > 3 else "")
        raise InvalidInput(
            f"The {what} cannot contain invisible or text-direction characters ({shown}), "
            "line breaks or tabs: type it with letters, digits, spaces and punctuation only."
        )
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
