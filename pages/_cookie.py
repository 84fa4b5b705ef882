"""The session cookie: set after signing in, cleared after signing out (components v2).

Not a page. The browser keeps the session token in the cookie `billing_session` (path `/`,
`SameSite=Strict`, `Secure` when the page was served over HTTPS), so a reload, another
tab, a typed address or a bookmark arrives with it; Streamlit reads it back through
`st.context.cookies` when a tab connects. Only a script can write a cookie here (the app
answers over a websocket), so this component does it: it is drawn while a change is
pending and says when it is done, which ends the change.

A clear names the token it clears: a tab whose session ended elsewhere must not clear a
newer cookie that another tab set after signing in again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

COOKIE_NAME = "billing_session"

_JS = """
export default function ({ data, setTriggerValue }) {
  if (!data) return;
  const secure = location.protocol === "https:" ? "; Secure" : "";
  const prefix = data.name + "=";
  const found = document.cookie.split("; ").find((c) => c.startsWith(prefix));
  const current = found === undefined ? null : found.slice(prefix.length);
  if (data.set) {
    if (current !== data.set) {
      document.cookie = prefix + data.set + "; Path=/; Max-Age=" + data.maxAge
        + "; SameSite=Strict" + secure;
    }
  } else if (data.clear && current === data.clear) {
    document.cookie = prefix + "; Path=/; Max-Age=0; SameSite=Strict" + secure;
  }
  setTriggerValue("done", data.nonce);
}
"""

_CSS = ":host { display: none; }"

_component = st.components.v2.component("billing_session_cookie", html="", css=_CSS, js=_JS)


def cookie_jar(key: str, change: dict[str, Any] | None, on_done: Callable[[], None]) -> None:
    """Draw the pending cookie `change` ({"set": token, "maxAge": seconds, "nonce": n} or
    {"clear": token, "nonce": n}); when the browser has made it, `on_done` runs with
    `st.session_state[key]["done"] == n`."""
    if not change:
        return
    _component(key=key, data={"name": COOKIE_NAME, **change}, on_done_change=on_done, height=0)
