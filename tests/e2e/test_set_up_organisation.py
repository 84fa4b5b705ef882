"""The README's "Set up your organisation", walked as written (issue 11): from `billing init`
on an empty database, with the command line and the browser only, to two administrators,
three workspaces, their members, granted credits and a member using them.

Everything the walk does is read from README.md: the shell block of step 1 is run by bash
in a terminal (a pseudo-terminal, so `billing admin create` asks for the password without
echo, twice, as it would for a person), in a folder where `.venv` is this project's; the
app is then served over that ledger as `make run DB=...` does; the people, workspaces,
memberships and grants the steps name are the ones entered in Chromium. Change the section
and this test walks the new text, or fails where the text and the console disagree.

Screenshots: tests/e2e/artifacts/organisation-*.png.
"""

from __future__ import annotations

import os
import pty
import re
import select
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

import billing_core

from .conftest import (
    PINNED_CLOCK,
    REPO_ROOT,
    SEL_EXCEPTION,
    VIEWPORT,
    _save_screenshot,
    _stop_process_group,
    open_page,
    sign_in,
    start_streamlit,
    wait_for_app,
)
from .test_invite_in_browser import choose

PASSWORD = "a strong first password"  # the README leaves the passwords to the reader
TOAST = '[data-testid="stToast"]'
CARD = '[class*="st-key-billing-approvals-card-"]'


def section(readme: Path = REPO_ROOT / "README.md") -> str:
    text = readme.read_text(encoding="utf-8")
    return text.split("## Set up your organisation", 1)[1].split("\n## ", 1)[0]


def steps(text: str) -> list[str]:
    found = re.findall(r"^(\d)\. (.*?)(?=^\d\. |^Every step|\Z)", text, flags=re.M | re.S)
    return [" ".join(body.split()) for _, body in found]


SECTION = section()
STEPS = steps(SECTION)


def shell_block(text: str) -> str:
    block = re.search(r"```sh\n(.*?)```", text, flags=re.S)
    assert block is not None
    return "\n".join(line.strip() for line in block.group(1).splitlines() if line.strip())


def run_in_a_terminal(script: str, cwd: Path, password: str) -> str:
    """Run `script` with bash in a pseudo-terminal, typing `password` at each prompt."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: bash, with the terminal as its controlling tty
        os.chdir(cwd)
        os.environ.update(PINNED_CLOCK)  # the served app's "now": a price set now is in effect there
        os.execvp("bash", ["bash", "-e", "-c", script])
    out, answered = b"", 0
    try:
        while True:
            ready, _, _ = select.select([fd], [], [], 120)
            if not ready:
                raise AssertionError(f"the commands stalled:\n{out.decode(errors='replace')}")
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the terminal closes when bash exits
                break
            if not chunk:
                break
            out += chunk
            if out.count(b"Password") > answered:
                os.write(fd, password.encode() + b"\n")
                answered += 1
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    text = out.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert password not in text  # not echoed
    return text


def new_tab(browser: Browser) -> Page:
    context = browser.new_context(viewport=VIEWPORT)
    return context.new_page()


def add_workspace(page: Page, name: str) -> None:
    page.get_by_role("textbox", name="New workspace").fill(name)
    page.get_by_role("button", name="Add workspace").click()
    wait_for_app(page)
    expect(page.locator(TOAST).filter(has_text=f"Workspace {name} added")).to_be_visible()


def invite(page: Page, name: str, email: str, admin: bool) -> str:
    page.get_by_role("textbox", name="Email").fill(email)
    page.get_by_role("textbox", name="Name").fill(name)
    if admin:
        page.get_by_test_id("stCheckbox").filter(has_text="Administrator").locator("label").click()
        expect(page.get_by_role("checkbox", name="Administrator")).to_be_checked()
    page.get_by_role("button", name="Invite").click()
    wait_for_app(page)
    code = page.get_by_test_id("stCode").filter(has_text=email.split("@")[0]).or_(
        page.get_by_test_id("stCode").filter(has_text="set-password?link=")
    )
    expect(page.get_by_text(f"Pass this link on to {name}")).to_be_visible()
    link = re.search(r"https?://\S+/set-password\?link=\S+", code.first.inner_text())
    assert link is not None
    return link.group()


def set_password_and_sign_in(tab: Page, link: str, email: str) -> None:
    tab.goto(link)
    wait_for_app(tab, initial_wait_ms=0)
    tab.get_by_role("textbox", name="New password", exact=True).fill(PASSWORD)
    tab.get_by_role("textbox", name="New password again").fill(PASSWORD)
    tab.get_by_role("button", name="Set password").click()
    wait_for_app(tab)
    tab.get_by_role("button", name="Sign in").click()
    wait_for_app(tab)
    tab.get_by_role("textbox", name="Email").fill(email)
    tab.get_by_role("textbox", name="Password").fill(PASSWORD)
    tab.get_by_role("button", name="Sign in", exact=True).click()
    wait_for_app(tab)
    expect(tab.get_by_test_id("stSidebar").get_by_text(email, exact=True)).to_be_visible()


def available(page: Page, workspace: str) -> str:
    box = page.get_by_test_id("stMetric").filter(has_text=f"Available in {workspace}")
    return box.get_by_test_id("stMetricValue").inner_text()


@pytest.fixture
def organisation_folder(tmp_path: Path) -> Iterator[Path]:
    """An empty folder where `.venv` is this project's, as the README's commands expect."""
    (tmp_path / ".venv").symlink_to(REPO_ROOT / ".venv")
    (tmp_path / "data").mkdir()
    yield tmp_path


def test_the_section_names_what_the_walk_needs() -> None:
    assert len(STEPS) == 8, STEPS
    assert "billing init" in shell_block(SECTION) and "billing admin create" in shell_block(SECTION)


def test_set_up_your_organisation_as_the_readme_says(organisation_folder, browser, page):
    one, two, three, four, five, six, seven, eight = STEPS
    # 1. the command line, in a terminal
    script = shell_block(SECTION)
    database = re.search(r"export BILLING_DB=(\S+)", script)
    assert database is not None
    output = run_in_a_terminal(script, organisation_folder, PASSWORD)
    assert "Ledger ready at" in output and "Administrator ada@acme.example" in output
    admin_email = re.search(r"admin create (\S+)", script).group(1)  # type: ignore[union-attr]

    # 2. served as `make run DB=...` serves it
    served = re.search(r"make run DB=(\S+?)`", two)
    assert served is not None and served.group(1) == database.group(1)
    assert f"sign in as **{admin_email}**" in two
    proc, url, _ = start_streamlit(
        "app.py", cwd=REPO_ROOT,
        env_extra={"BILLING_DB": str(organisation_folder / served.group(1))},
        log_dir=organisation_folder,
    )
    tabs: list[Page] = []
    try:
        sign_in(page, url, admin_email, PASSWORD)
        expect(page.get_by_role("heading", name="Billing", exact=True)).to_be_visible()

        # 3. three workspaces
        spaces = re.findall(r"\*\*(\w+)\*\*", three.split("add", 1)[1])
        assert len(spaces) == 3, three
        open_page(page, "People & workspaces")
        for name in spaces:
            add_workspace(page, name)

        # 4. invitations: the first with Administrator ticked
        invitees = re.findall(
            r"\*\*([A-Z][\w ]+?)\*\* \(\*\*([\w.]+@[\w.]+)\*\*\)( with \*Administrator\*)?", four
        )
        assert len(invitees) == 3, four
        page.get_by_role("tab", name="People").click()
        links = {}
        for name, email, admin in invitees:
            links[email] = invite(page, name, email, bool(admin))
        _save_screenshot(page, "organisation-4-invited")

        # 5. each sets a password with their link and signs in
        assert "opens their link, chooses a password and signs in" in five
        people = {}
        for name, email, _ in invitees:
            tab = new_tab(browser)
            tabs.append(tab)
            set_password_and_sign_in(tab, links[email], email)
            people[name.split()[0]] = (email, tab)

        # 6. memberships, under Manage a person
        assert "**Manage a person**" in six
        joins = re.findall(r"(\w+) to \*\*(\w+)\*\*(?: and \*\*(\w+)\*\*)?", six)
        assert joins, six
        page.reload()
        wait_for_app(page, initial_wait_ms=0)
        page.get_by_role("tab", name="People").click()
        for first_name, *wanted in joins:
            email, _ = people[first_name]
            choose(page, "Person", email)
            for space in [w for w in wanted if w]:
                choose(page, "Add to a workspace", space)
                page.get_by_role("button", name="Add", exact=True).locator("visible=true").first.click()
                wait_for_app(page)
                expect(page.locator(TOAST).filter(has_text=f"is now a member of {space}")).to_be_visible()

        # 7. grants: one at once, one above the limit for a second administrator
        grants = re.findall(
            r"grant \*\*(\d+)\*\* to \*\*(\w+)\*\* with the reason \*([^*]+)\*", seven, flags=re.I
        )
        assert len(grants) == 2, seven
        page.get_by_role("tab", name="Credits").click()
        for amount, space, reason in grants:
            choose(page, "Workspace", space)
            page.get_by_role("textbox", name="Amount (en-credits)").fill(amount)
            page.get_by_role("textbox", name="Reason").fill(reason)
            page.get_by_role("button", name="Grant", exact=True).click()
            wait_for_app(page)
        expect(page.locator(TOAST).filter(has_text="waits for another administrator")).to_be_visible()
        approver = re.search(r"(\w+) signs in, opens \*\*Approvals\*\* and approves it", seven)
        assert approver is not None
        _, grace = people[approver.group(1)]
        open_page(grace, "Approvals")
        card = grace.locator(CARD).filter(has_text=grants[1][2])
        expect(card).to_have_count(1)
        card.get_by_role("button", name="Approve").click()
        wait_for_app(grace)
        expect(grace.locator(TOAST).filter(has_text="Approved #")).to_be_visible()
        _save_screenshot(grace, "organisation-7-approved")

        # 8. a member uses credits
        member = re.match(r"(\w+) signs in, opens \*\*Use credits\*\*, picks \*\*(\w+)\*\*", eight)
        assert member is not None
        before = re.findall(r"([\d,]+\.\d\d) en-credits", eight)[0]
        after = re.findall(r"become ([\d,]+\.\d\d)", eight)[0]
        _, alan = people[member.group(1)]
        open_page(alan, "Use credits")
        assert available(alan, member.group(2)).startswith(before)
        alan.get_by_role("textbox", name="Your question").fill("How do we start?")
        alan.get_by_role("button", name="Ask · 2.00 en-credits").click()
        wait_for_app(alan)
        expect(alan.get_by_test_id("stMetric").filter(has_text=f"Available in {member.group(2)}")
               .get_by_test_id("stMetricValue")).to_have_text(re.compile(re.escape(after)))
        expect(alan.locator(SEL_EXCEPTION)).to_have_count(0)
        _save_screenshot(alan, "organisation-8-use-credits")
    finally:
        for tab in tabs:
            tab.context.close()
        _stop_process_group(proc)

    # the organisation, as the ledger has it
    with billing_core.open_ledger(str(organisation_folder / served.group(1))) as ledger:
        operator = ledger.system_user()
        people_now = {p.user.email: p for p in ledger.people(operator)}
        admins = sorted(e for e, p in people_now.items() if p.user.is_admin)
        assert admins == sorted([admin_email, *(e for _, e, a in invitees if a)])
        assert len(admins) == 2
        names = {w.id: w.name for w in ledger.workspaces(operator)}
        assert sorted(names.values()) == sorted(spaces)
        for first_name, *wanted in joins:
            email, _ = people[first_name]
            assert sorted(names[w] for w in people_now[email].workspace_ids) == sorted(w for w in wanted if w)
        balances = {s.wallet.workspace_name: s.wallet.balance for s in ledger.wallets(operator)}
        assert balances[grants[0][1]] == int(grants[0][0]) - 2
        assert balances[grants[1][1]] == int(grants[1][0])
        ledger.verify()
