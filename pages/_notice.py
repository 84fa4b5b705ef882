"""One notice helper: what a button's callback (or an action just before `st.rerun()`) has
to tell the reader, queued in session state and shown by the next run where the page
draws its `place`.

A callback runs before the page is drawn, and a toast drawn just before `st.rerun()` is
lost, so neither can draw its outcome itself: both queue a `Notice` here.

Not a page (the underscore keeps it out of navigation).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

import streamlit as st

from pages import _a11y

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
    """`text` is markdown the caller made safe (user text through `plain()`), drawn in the
    page as a status message (success: role="status") or an alert (warning, error:
    role="alert"); `toast`, when given, is also shown as a toast (safe the same way).
    Screen readers do not announce toasts, so a toast never stands alone."""

    text: str
    tone: Tone = Tone.SUCCESS
    toast: str | None = None
    fields: tuple[str, ...] = ()  # inputs this notice is about (CSS selectors)


def notify(place: str, notice: Notice) -> None:
    """Queue `notice` for the next run, to be shown where `place` is drawn."""
    queue = st.session_state.setdefault(QUEUE_KEY, {})
    queue.setdefault(place, []).append(notice)


def show(place: str, *, fields: list[str] | None = None) -> None:
    """Draw (and forget) the notices queued for `place`. `fields` (CSS selectors, see
    `_a11y.widget`), with those a notice names itself, are the inputs a warning or an error
    here is about: they are marked invalid and described by it, and cleared again on a run
    without one (pass `fields=[]` where only the notices name them)."""
    queue = st.session_state.get(QUEUE_KEY)
    notices = queue.pop(place, []) if isinstance(queue, dict) else []
    for notice in notices:
        if notice.toast:
            st.toast(notice.toast, icon=ICONS[notice.tone])
        {Tone.SUCCESS: st.success, Tone.WARNING: st.warning, Tone.ERROR: st.error}[
            notice.tone
        ](notice.text, icon=ICONS[notice.tone])
    if fields is not None:
        problem = next((n for n in notices if n.tone is not Tone.SUCCESS), None)
        named = [*fields, *(problem.fields if problem else ())]
        _a11y.field_error(place, named, None if problem is None else as_read(problem.text))


def as_read(markdown: str) -> str:
    """Safe markdown of one line as a reader sees it (the escapes gone)."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("**", "")


def lines(texts: list[str]) -> str:
    """Safe texts as one sentence, or several as a markdown list."""
    if len(texts) == 1:
        return texts[0]
    return "\n".join(f"- {t}" for t in texts)
