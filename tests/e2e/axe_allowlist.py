"""The one allow-list of what axe-core finds that Streamlit itself causes, not the app:
each entry is a rule, a pattern over where the node is (the data-testid of the node and its
ancestors, nearest first, e.g. "stMarkdownContainer < stButtonGroup < ..."), and the
reason. Anything else serious or critical fails tests/e2e/test_accessibility.py.

Report these upstream (streamlit/streamlit); do not fork the framework to hide them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Allowed:
    rule: str
    within: str  # a regular expression searched in Finding.within
    reason: str


ALLOWED: list[Allowed] = [
    Allowed(
        "list", r"^stSidebarNavItems < stSidebarNav\b",
        "Streamlit's sidebar navigation (st.navigation with sections) puts each section's "
        "header <div> straight inside the <ul> of page links (axe: a list may hold only "
        "<li>). The app has no say in that markup.",
    ),
    Allowed(
        "listitem", r"^stSidebarNavItems < stSidebarNav\b",
        "The same navigation wraps each section's <li> page links in a <div> inside the "
        "<ul>, so axe finds <li> without a list parent.",
    ),
    Allowed(
        "color-contrast", r"^stMarkdownContainer < stButtonGroup <",
        "The selected option of st.segmented_control / st.pills is drawn in the theme's "
        "primary colour on a 10% tint of it: 4.47:1, just under 4.5:1. Changing it would "
        "mean a custom theme (which also turns off following the reader's light or dark "
        "setting) or CSS against Streamlit's generated class names; the selected option is "
        "also told by its border and aria-checked, not by colour alone.",
    ),
    Allowed(
        "aria-dialog-name", r"^stToast < stToastContainer\b",
        "st.toast draws role=alertdialog with aria-labelledby naming an element id that is "
        "not in the page, so the toast has no accessible name. Its text is the app's, and "
        "every toast is repeated in the page as a status message (pages/_notice.py), which "
        "screen readers do announce.",
    ),
]
