"""One chart as a reader gets it: a heading (h3) that names it, a sentence that says what it
shows, the chart with that name and sentence as its accessible name, and its data as CSV.

Not a page (the underscore keeps it out of navigation).
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from pages._shared import csv_download, plain
from pages._text import visible_text


def chart_box(
    title: str, summary: str, chart: alt.TopLevelMixin, data: pd.DataFrame, *,
    key: str, csv_key: str | None, csv_name: str = "", note: str | None = None,
) -> None:
    """`summary` may hold user text (names): it is drawn with `plain()` and given to
    screen readers with `visible_text()`. Without `csv_key`, the chart's rows are in a
    CSV offered beside it (two charts of one frame)."""
    st.subheader(title, anchor=False)
    if note:
        st.caption(note)
    st.markdown(plain(summary))
    st.altair_chart(chart, key=key, width="stretch", alt=visible_text(f"{title}. {summary}"))
    if csv_key is not None:
        csv_download(data, name=csv_name, key=csv_key)
