"""The session cookie's "done" racing the runs of signing in and out, on a slow link.

1. Signing in still draws the page it opens (the blank-Billing flake).

Signing in at the app's address moves the browser from Sign in to Billing in one run, and
that run also draws the session cookie's component, whose "done" reruns only the cookie's
fragment. Every rerun the browser sends names the page it believes it is on, and a
fragment run that names another page than the browser's makes Streamlit 1.67 clear the
page's elements and redraw only the fragment: the sidebar (drawn by app.py) stays, the
main area goes blank. So the cookie's component must reach the browser after the run's
page change: a browser that says "done" has then always heard where it is.

On a loaded machine the server sometimes flushed the component before the page change;
here a slow link makes that order count every time: the app's websocket is routed through
the test, which holds back the run's page change and everything after it until the browser
has acted on what came before (said "done", or had nothing to say).

2. Signing out removes the sidebar. With the menu hidden by st.navigation(position=
"hidden"), Streamlit 1.67's frontend keeps showing a sidebar that had content until the end
of a run finds it empty, and at signing out that depended on when the browser drew the
emptied sidebar relative to the ends of the signing-out run and of the cookie's "done"
run. Here the test delivers the end of the signing-out run, the "done" run and its end in
one burst (as a loaded machine sometimes did): with position="hidden" the sidebar stayed in
about half the runs; with every signed-out page hidden instead, there is no hidden menu to
keep it.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, WebSocketRoute, expect
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from .conftest import DEFAULT_TIMEOUT_MS, DEMO_PASSWORD, SEL_EXCEPTION, sign_in, wait_for_app

MEMBER = "alan@example.com"
QUIET_ROUNDS = 40  # rounds of 50 ms the browser gets to act on what reached it


def finished(message: bytes) -> int | None:
    """How the run ended, when `message` says a run ended."""
    forward = ForwardMsg.FromString(message)
    return forward.script_finished if forward.WhichOneof("type") == "script_finished" else None


class SlowLink:
    """The app's websocket, routed through the test: once `hold()` is called, the next
    page change from the server and every message after it wait until `release()`; with
    `burst_armed`, the next end of a whole run and everything after it wait for the end of
    a fragment run, then reach the browser together."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.holding = False
        self.held: list[bytes | str] = []
        self.server_page = ""  # the page the server's last run navigated to
        self.fragment_reruns: list[tuple[str, str]] = []  # (page named, server's page then)
        self.burst_armed = False
        self.bursting: list[bytes | str] | None = None
        self._route: WebSocketRoute | None = None
        page.route_web_socket(re.compile(r"/_stcore/stream"), self._connect)

    def _connect(self, route: WebSocketRoute) -> None:
        server = route.connect_to_server()
        self._route = route
        route.on_message(lambda message: self._to_server(server, message))
        server.on_message(self._to_browser)

    def _to_server(self, server: WebSocketRoute, message: bytes | str) -> None:
        if isinstance(message, bytes):
            back = BackMsg.FromString(message)
            if back.WhichOneof("type") == "rerun_script" and back.rerun_script.fragment_id:
                self.fragment_reruns.append((back.rerun_script.page_script_hash, self.server_page))
        server.send(message)

    def _to_browser(self, message: bytes | str) -> None:
        if isinstance(message, bytes) and self.bursting is not None:
            self.bursting.append(message)
            if finished(message) == ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY:
                burst, self.bursting = self.bursting, None
                assert self._route is not None
                for held in burst:
                    self._route.send(held)
            return
        if isinstance(message, bytes):
            forward = ForwardMsg.FromString(message)
            if self.burst_armed and finished(message) == ForwardMsg.FINISHED_SUCCESSFULLY:
                self.burst_armed, self.bursting = False, [message]
                return
            if forward.WhichOneof("type") == "navigation":
                self.server_page = forward.navigation.page_script_hash
                if self.holding and not self.held:
                    self.held.append(message)
                    return
        if self.held:
            self.held.append(message)
        else:
            assert self._route is not None
            self._route.send(message)

    def hold(self) -> None:
        self.holding = True

    def wait_until_held(self) -> None:
        for _ in range(400):
            if self.held:
                return
            self.page.wait_for_timeout(50)
        raise AssertionError("the server never changed the page")

    def release(self) -> None:
        assert self._route is not None
        self.holding = False
        held, self.held = self.held, []
        for message in held:
            self._route.send(message)


def test_signing_in_draws_billing_when_the_page_change_arrives_late(app_url, page: Page):
    link = SlowLink(page)
    page.goto(app_url)  # the Sign in page's own address: signing in changes the page
    wait_for_app(page, initial_wait_ms=0)
    page.get_by_role("textbox", name="Email").fill(MEMBER)
    page.get_by_role("textbox", name="Password").fill(DEMO_PASSWORD)
    link.hold()
    page.get_by_role("button", name="Sign in", exact=True).click()
    link.wait_until_held()
    for _ in range(QUIET_ROUNDS):  # what reached the browser before the page change
        if link.fragment_reruns:
            break
        page.wait_for_timeout(50)
    link.release()
    wait_for_app(page)

    expect(page.get_by_role("heading", name="Billing", exact=True)).to_be_visible()
    expect(page.get_by_test_id("stMetric").filter(has_text="Available balance")).to_be_visible()
    expect(page.locator(SEL_EXCEPTION)).to_have_count(0)
    # the cookie was set, and its "done" named the page the server had moved to
    assert link.fragment_reruns, "the cookie's component never said it was done"
    assert all(named == server for named, server in link.fragment_reruns), link.fragment_reruns


def test_signing_out_removes_the_sidebar_when_the_runs_end_in_one_burst(app_url, page: Page):
    link = SlowLink(page)
    sign_in(page, app_url, MEMBER)
    expect(page.get_by_test_id("stSidebar").get_by_text(MEMBER, exact=True)).to_be_visible()
    link.burst_armed = True
    page.get_by_test_id("stSidebar").get_by_role("button", name="Sign out").click()
    wait_for_app(page)
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
    expect(page.get_by_test_id("stSidebar")).to_have_count(0, timeout=DEFAULT_TIMEOUT_MS)
    assert link.bursting is None and not link.burst_armed
    assert not any(c["name"] == "billing_session" for c in page.context.cookies())
