"""Accessibility that Streamlit 1.67 does not offer by itself, in one place.

- `page_style()`: a few documented CSS rules for every page (below).
- `request_focus()` / `focus_here()`: move keyboard focus once, after an action that
  removed or replaced what had it (signing in, Cancel on a request, Approve on a card).
- `field_error()`: tie an error message to its field (`aria-invalid`, `aria-describedby`).
  Streamlit 1.67 sets these only for its own client-side `validate=` rules, which run in
  the browser before anything reaches billing_core; billing_core's refusals (the amount,
  the note, the credentials) need this tiny components-v2 element.

The two elements draw nothing (their element containers are hidden by `page_style`) and
only run a few lines of JavaScript in the page; they never receive user text as markup.

Not a page (the underscore keeps it out of navigation).
"""

from __future__ import annotations

import secrets

import streamlit as st

FOCUS_KEY = "billing.a11y.pending_focus"  # a pending focus request: (targets, token)
HEADING = "h1"  # the page's heading: where focus goes when nothing better is left


def page_style() -> None:
    """The app's CSS, once per run (a style-only st.html goes to the event container and
    takes no space on the page). Each rule says why it is there."""
    st.html(
        """<style>
/* WCAG 1.4.3: st.caption is the text colour at opacity 0.6 (3.88:1 on white); at 0.75 it
   is about 6:1 in the light theme and still reads as secondary text, in either theme. */
[data-testid="stCaptionContainer"] { opacity: 0.75; }
/* WCAG 2.4.7: a table's or chart's toolbar (fullscreen, search) appears on hover only,
   but keyboard users tab through its buttons: show it while focus is inside. */
[data-testid="stElementContainer"]:focus-within [data-testid="stElementToolbar"],
[data-testid="stElementToolbar"]:focus-within { opacity: 1 !important; visibility: visible !important; }
/* WCAG 2.4.7: the sidebar's page links show focus as a faint tint (1.11:1): outline it. */
[data-testid="stSidebarNavLink"]:focus-visible { outline: 2px solid currentColor; outline-offset: -2px; }
/* Focus moved by the app lands on headings and cards: show where it is. */
[data-billing-focus]:focus { outline: 2px solid currentColor; outline-offset: 4px; }
/* The focus and field elements below draw nothing: no gap for them either. */
[class*="st-key-billing-a11y-"] { display: none; }
</style>"""
    )


_FOCUS_JS = """
const done = (window.__billingFocusDone ??= new Set());
const idle = () => document.querySelector('[data-testid="stApp"][data-test-script-state="notRunning"]');

export default function ({ data }) {
  if (!data || !data.token || done.has(data.token)) return;
  done.add(data.token);
  let tries = 0;
  const attempt = () => {
    const target = idle() && data.targets.map((s) => document.querySelector(s)).find(Boolean);
    if (!target) {
      if (++tries < 100) setTimeout(attempt, 50);
      return;
    }
    if (!target.matches('a[href], button, input, select, textarea, [tabindex]')) {
      target.setAttribute('tabindex', '-1');
    }
    target.setAttribute('data-billing-focus', '');
    target.focus();
  };
  attempt();
}
"""

_focus = st.components.v2.component(
    "billing_focus", html="", js=_FOCUS_JS, isolate_styles=False
)


def request_focus(*targets: str) -> None:
    """Ask the next run to move focus to the first of `targets` (CSS selectors) that is
    on the page once the run is over. For callbacks, which run before the page is drawn."""
    st.session_state[FOCUS_KEY] = (list(targets) or [HEADING], secrets.token_hex(8))


def focus_here(*targets: str) -> None:
    """Move focus now (this run) to the first of `targets` on the page."""
    request_focus(*targets)
    apply_focus()


def apply_focus() -> None:
    """Carry out a pending focus request, once (app.py calls this on every run)."""
    pending = st.session_state.pop(FOCUS_KEY, None)
    if pending is None:
        return
    targets, token = pending
    _focus(key="billing.a11y.focus", data={"targets": targets, "token": token})


_FIELD_JS = """
const idle = () => document.querySelector('[data-testid="stApp"][data-test-script-state="notRunning"]');

function mark(data) {
  const fields = data.fields.flatMap((s) => [...document.querySelectorAll(s)]);
  for (const field of document.querySelectorAll(`[data-billing-error="${data.name}"]`)) {
    if (!fields.includes(field) || !data.message) {
      field.removeAttribute('aria-invalid');
      field.removeAttribute('aria-describedby');
      field.removeAttribute('data-billing-error');
    }
  }
  if (!data.message) return true;
  const alert = [...document.querySelectorAll('[data-testid="stAlertContainer"]')]
    .find((a) => a.innerText.trim().includes(data.message));
  if (!alert || !fields.length) return false;
  alert.id ||= `billing-error-${data.name.replace(/[^A-Za-z0-9_-]/g, "-")}`;
  for (const field of fields) {
    field.setAttribute('aria-invalid', 'true');
    field.setAttribute('aria-describedby', alert.id);
    field.setAttribute('data-billing-error', data.name);
  }
  return true;
}

export default function ({ data }) {
  if (!data) return;
  let tries = 0;
  const attempt = () => {
    if ((idle() && mark(data)) || ++tries >= 100) return;
    setTimeout(attempt, 50);
  };
  attempt();
}
"""

_field = st.components.v2.component(
    "billing_field_error", html="", js=_FIELD_JS, isolate_styles=False
)


def field_error(name: str, fields: list[str], message: str | None) -> None:
    """Mark the inputs matched by `fields` (CSS selectors) invalid and described by the
    alert on the page that reads `message` (as shown, without markdown); with no message,
    clear what an earlier run marked. Draw it on every run of the form, after the alert."""
    _field(key=f"billing.a11y.field.{name}",
           data={"name": name, "fields": fields, "message": message or ""})


def widget(key: str, element: str = "input") -> str:
    """The CSS selector of the `element` of the widget with Streamlit key `key`."""
    return f".st-key-{key.replace('.', '-')} {element}"
