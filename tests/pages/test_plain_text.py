"""pages._shared.plain: user text handed to anything Streamlit draws as markdown (alerts,
toasts, captions, labels, badges) reads exactly as typed.

Issue 10, item 16. Escaping every markup character stops emphasis, links, colours, KaTeX
and HTML, but Streamlit 1.67's markdown also rewrites the *parsed* text, where escapes are
already gone: bare URLs and emails become links (remark-gfm's autolink literals),
`:material_x:` and `:streamlit:` become images, `->` `--` `>=` become arrows and dashes.
The patterns below are copied from the served frontend bundle
(streamlit/static/static/js/StreamlitMarkdown.*.js); the browser test
(tests/e2e/test_hostile_text.py) checks the real rendering.
"""

from __future__ import annotations

import re

import pytest

from pages._text import badge_label, plain

WORD_JOINER = "\u2060"
# remark-gfm autolink literals (mdast-util-gfm-autolink-literal's find-and-replace)
URL = re.compile(r"(https?://|www(?=\.))([-.\w]+)([^ \t\r\n]*)", re.IGNORECASE | re.ASCII)
EMAIL = re.compile(r"(?:(?<=^)|(?<=[\s\W]))([-.\w+]+)@([-\w]+(?:\.[-\w]+)+)", re.ASCII)
# Streamlit's own text rewrites
IMAGES = [re.compile(r":streamlit:"), re.compile(r":material_(\w+):")]
SIGNS = re.compile(r"(^|\s)(<->|->|<-|--|>=|<=|~=)(\s|$)")

HOSTILE = [
    "Evil http://evil.example/x",
    "HTTPS://EVIL.EXAMPLE",
    "go to www.evil.example now",
    "write to mallory@evil.example",
    "logo :streamlit: icon :material/home: :material_home:",
    "a -> b <- c -- d >= e <= f ~= g <-> h",
    "**bold** _it_ ~~gone~~ `code` [link](http://x) ![img](http://x/i.png) <http://y.z>",
    ":red[red] :blue-badge[badge] $x^2$ $$y$$ &amp; &#x202E; <b>html</b> # heading",
    "\u202eexe.live and a zero\u200bwidth",
]


def parsed_text(markdown: str) -> str:
    """What CommonMark makes of plain()'s output: each backslash escape resolved."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown)


def rewritten(text: str) -> list[str]:
    found = [m.group(0) for m in URL.finditer(text) if "." in m.group(2)]
    found += [m.group(0) for m in EMAIL.finditer(text)]
    found += [m.group(0) for p in IMAGES for m in p.finditer(text)]
    found += [m.group(2) for m in SIGNS.finditer(text)]
    return found


def test_the_patterns_do_find_the_rewrites_in_raw_text():
    """The check below can fail: without plain() every sample is rewritten."""
    assert all(rewritten(parsed_text(t.replace("\\", ""))) for t in HOSTILE[:6])


@pytest.mark.parametrize("text", HOSTILE)
def test_plain_text_is_never_rewritten_and_reads_as_typed(text: str):
    shown = parsed_text(plain(text))
    assert not rewritten(shown), shown
    expected = text.replace("\u202e", "<U+202E>").replace("\u200b", "<U+200B>")
    assert shown.replace(WORD_JOINER, "") == expected
    # nothing but backslash escapes of ASCII punctuation reaches the markdown parser
    assert not re.search(r"(?<!\\)[*_`\[\]<>$:#~|&]", plain(text).replace("\\\\", ""))


def test_a_badge_label_leaves_square_brackets_to_st_badge():
    """st.badge escapes [ and ] itself: escaped twice they would show a backslash."""
    assert badge_label("Evil [x]: zero balance") == "Evil [x]\\: zero balance"
    assert not rewritten(parsed_text(badge_label("www.evil.example")))
