"""One notice helper: what a button's callback (or an action just before `st.rerun()`) has
to tell the reader, queued in session state and shown by the next run where the page
draws its `place`.

A callback runs before the page is drawn, and a toast drawn just before `st.rerun()` is
lost, so neither can draw its outcome itself: both queue a `Notice` here.

Not a page (the underscore keeps it out of navigation).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import streamlit as st

QUEUE_KEY = "billing.notices"  # place -> list of Notice
PAGE = "page"  # the place at the top of a page, under its title


class Tone(StrEnum):
    SUCCESS = "success"
    WARNING = "warning"
    ERROR = "error"


ICONS = {
    Tone.SUCCESS: ":material/check_circle:",
    Tone.WARNING: ":material/warning:",
    Tone.ERROR: ":material/error:",
}


@dataclass(frozen=True, slots=True)
class Notice:
    """`text` is markdown the caller made safe (user text through `plain()`); `toast`, when
    given, is also shown as a toast (safe the same way); `inline` draws `text` in the page."""

    text: str
    tone: Tone = Tone.SUCCESS
    toast: str | None = None
    inline: bool = True


def notify(place: str, notice: Notice) -> None:
    """Queue `notice` for the next run, to be shown where `place` is drawn."""
    queue = st.session_state.setdefault(QUEUE_KEY, {})
    queue.setdefault(place, []).append(notice)


def show(place: str) -> None:
    """Draw (and forget) the notices queued for `place`."""
    queue = st.session_state.get(QUEUE_KEY)
    if not isinstance(queue, dict):
        return
    for notice in queue.pop(place, []):
        if notice.toast:
            st.toast(notice.toast, icon=ICONS[notice.tone])
        if notice.inline:
            {Tone.SUCCESS: st.success, Tone.WARNING: st.warning, Tone.ERROR: st.error}[
                notice.tone
            ](notice.text, icon=ICONS[notice.tone])


def lines(texts: list[str]) -> str:
    """Safe texts as one sentence, or several as a markdown list."""
    if len(texts) == 1:
        return texts[0]
    return "\n".join(f"- {t}" for t in texts)
