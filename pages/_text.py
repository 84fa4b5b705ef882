"""User text on the page: what Streamlit draws as markdown, and hidden characters.

Not a page (the underscore keeps it out of navigation). Streamlit renders alerts, toasts,
captions, labels and badges as markdown; `plain` makes user text inert there. Elements
that draw text as it is (st.text, tables, pickers, chart labels) take `visible_text`.
"""

from __future__ import annotations

import re
import string

from billing_core.text import visible

_MARKDOWN_SPECIAL = frozenset(string.punctuation)  # CommonMark lets a backslash escape each
_WORD_JOINER = "\u2060"  # invisible and unbreakable: splits a pattern without a visible trace
# What Streamlit's markdown rewrites even when every character is escaped (it transforms
# the parsed text): bare URLs and emails become links, `:streamlit:` and `:material_x:`
# images, and `->`, `--`, `>=`, `<=`, `~=` arrows and signs. A word joiner at these
# points keeps the words as they read and stops the rewrite.
_LINK_START = re.compile(r"(?i)(https?(?=://)|www(?=\.))")
_IMAGE_START = re.compile(r":(?=streamlit:|material_)")
_SIGN_MIDDLE = re.compile(r"(?<=[-<>~])(?=[->=])")


def visible_text(text: object) -> str:
    """User text for an element that draws text as it is (st.text, tables, pickers, chart
    labels): hidden characters (a right-to-left override, a zero-width space) shown as
    their code points, `<U+202E>`."""
    return visible(str(text))


def _defused(text: str) -> str:
    """`text` with a word joiner wherever Streamlit would make a link, an image or a sign."""
    text = _LINK_START.sub(lambda m: m.group(0) + _WORD_JOINER, text)
    text = _IMAGE_START.sub(":" + _WORD_JOINER, text).replace("@", _WORD_JOINER + "@")
    return _SIGN_MIDDLE.sub(_WORD_JOINER, text)


def plain(text: object, *, escape: frozenset[str] = _MARKDOWN_SPECIAL) -> str:
    """User text made inert for anything Streamlit draws as markdown (st.markdown,
    st.caption, st.error and the other alerts, st.toast, labels): hidden characters shown
    as code points, whitespace runs (newlines too) collapsed, every ASCII punctuation
    character backslash-escaped (no emphasis, links, colours, KaTeX, HTML, directives) and
    a word joiner where Streamlit would still make a link or an icon of the text. Never
    pass user text to markdown without it."""
    value = _defused(" ".join(visible_text(text).split()))
    return "".join(f"\\{c}" if c in escape else c for c in value)


def badge_label(text: object) -> str:
    """`plain` for st.badge, which escapes square brackets itself."""
    return plain(text, escape=_MARKDOWN_SPECIAL - {"[", "]"})
