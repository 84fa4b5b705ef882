"""People & workspaces, the People tab: invite, make or revoke admin, deactivate and
reactivate, reset a password; each person's workspaces.

Not a page. billing_core holds every rule (the last administrator, one-time links, who may
do what); this draws and asks. A link is shown once, right after it was made, to pass on.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from billing_core import PasswordLink, Person, User, Workspace
from pages._admin import app_url, change
from pages._shared import attempt, current_user, flash, get_ledger, local_time, plain
from pages._text import visible_text

KEY = "billing.people.people"
LINK_KEY = f"{KEY}.link"  # (whose, what for, url, expiry) of the link just made


def signs_in_with(person: Person) -> str:
    if person.sso_only:
        return "Single sign-on"
    if person.has_password:
        return "Password"
    if person.invited_until is not None:
        return f"Invited (link until {local_time(person.invited_until)})"
    return "No password yet"


def keep_link(link: PasswordLink, why: str) -> None:
    url = link.url or f"/set-password?link={link.token}"
    st.session_state[LINK_KEY] = (link.user.name, link.user.email, why, url, link.expires_at, link.emailed)


def show_link() -> None:
    held = st.session_state.get(LINK_KEY)
    if not held:
        return
    name, email, why, url, expires, emailed = held
    assert isinstance(expires, datetime)
    with st.container(border=True, key=f"{KEY}.link_box"):
        st.markdown(f"**{plain(why)}** Pass this link on to {plain(name)} ({plain(email)}): it works once, "
                    f"until {local_time(expires)}.")
        st.code(url, language=None, wrap_lines=True)
        if emailed:
            st.caption("It was also emailed to them.")
        if st.button("Done", key=f"{KEY}.link_done"):
            st.session_state.pop(LINK_KEY, None)
            st.rerun()


def invite_form(admin: User) -> None:
    with st.form(f"{KEY}.invite", border=True, clear_on_submit=True):
        st.markdown("**Invite a person**")
        email, name = st.columns(2)
        email_text = email.text_input("Email", key=f"{KEY}.email", placeholder="name@example.com")
        name_text = name.text_input("Name", key=f"{KEY}.name")
        admin_too = st.checkbox("Administrator", key=f"{KEY}.admin")
        sso_only = st.checkbox("Signs in with single sign-on only (no password)", key=f"{KEY}.sso")
        submitted = st.form_submit_button("Invite", type="primary", icon=":material/person_add:")
    if not submitted:
        return
    invited = attempt(lambda: get_ledger().invite_user(
        admin, email_text, name_text, admin=admin_too, sso_only=sso_only, base_url=app_url()
    ))
    if invited is None:
        return
    if invited.link is not None:
        keep_link(invited.link, f"{invited.user.name} is invited.")
    flash(plain(f"{invited.user.name} is invited."))
    st.rerun()


def people_table(people: list[Person], names: dict[int, str]) -> None:
    frame = pd.DataFrame(
        {
            "Name": [visible_text(p.user.name) for p in people],
            "Email": [p.user.email for p in people],
            "Role": ["Administrator" if p.user.is_admin else "Member" for p in people],
            "Status": ["Active" if p.user.active else "Deactivated" for p in people],
            "Signs in with": [signs_in_with(p) for p in people],
            "Workspaces": [", ".join(visible_text(names[w]) for w in p.workspace_ids if w in names)
                           for p in people],
        }
    )
    st.dataframe(frame, hide_index=True, key=f"{KEY}.table")


def role_and_status(admin: User, person: Person) -> None:
    user = person.user
    ledger = get_ledger()
    role, status, reset = st.columns(3)
    if user.is_admin:
        role.button("Revoke administrator", key=f"{KEY}.demote.{user.id}", on_click=change, args=(
            lambda: ledger.demote_admin(admin, user.id),
            lambda u: f"{u.name} is no longer an administrator."))
    else:
        role.button("Make administrator", key=f"{KEY}.promote.{user.id}", on_click=change, args=(
            lambda: ledger.promote_admin(admin, user.id), lambda u: f"{u.name} is now an administrator."))
    if user.active:
        status.button("Deactivate", key=f"{KEY}.deactivate.{user.id}", on_click=change, args=(
            lambda: ledger.deactivate_user(admin, user.id),
            lambda u: f"{u.name} is deactivated and signed out everywhere."))
    else:
        status.button("Reactivate", key=f"{KEY}.reactivate.{user.id}", on_click=change, args=(
            lambda: ledger.reactivate_user(admin, user.id), lambda u: f"{u.name} can sign in again."))
    if not person.sso_only and reset.button("Reset password", key=f"{KEY}.reset.{user.id}"):
        link = attempt(lambda: ledger.reset_link(admin, user.id, base_url=app_url()))
        if link is not None:
            keep_link(link, f"The password of {user.name} was reset and their sessions ended.")
            st.rerun()


def their_workspaces(admin: User, person: Person, spaces: list[Workspace]) -> None:
    user = person.user
    names = {w.id: w for w in spaces}
    st.markdown(f"**Workspaces of {plain(user.name)}**")
    if not person.workspace_ids:
        st.caption("Not a member of any workspace yet.")
    for workspace_id in person.workspace_ids:
        space = names.get(workspace_id)
        if space is None:
            continue
        label, remove = st.columns([5, 1], vertical_alignment="center")
        label.text(visible_text(space.name) + (" (archived)" if space.archived else ""))
        remove.button("Remove", key=f"{KEY}.leave.{user.id}.{space.id}", on_click=change, args=(
            lambda s=space: get_ledger().remove_workspace_member(admin, s.id, user.id),
            lambda _, s=space: f"{user.name} is no longer a member of {s.name}."))
    others = [w for w in spaces if w.id not in person.workspace_ids and not w.archived]
    if not user.active or not others:
        return
    pick, add = st.columns([5, 1], vertical_alignment="bottom")
    chosen = pick.selectbox("Add to a workspace", others, index=None, key=f"{KEY}.join.{user.id}",
                            format_func=lambda w: visible_text(w.name), placeholder="Choose a workspace")
    if add.button("Add", key=f"{KEY}.join_add.{user.id}", disabled=chosen is None):
        assert chosen is not None
        change(lambda: get_ledger().add_workspace_member(admin, chosen.id, user.id),
               lambda _: f"{user.name} is now a member of {chosen.name}.")
        st.rerun()


def manage(admin: User, people: list[Person], spaces: list[Workspace]) -> None:
    st.header("Manage a person", anchor=False)
    by_id = {p.user.id: p for p in people}  # chosen by id: a change of role keeps the choice
    chosen = st.selectbox("Person", list(by_id), index=None, key=f"{KEY}.manage",
                          format_func=lambda i: f"{visible_text(by_id[i].user.name)} · {by_id[i].user.email}",
                          placeholder="Choose a person")
    person = by_id.get(chosen) if chosen is not None else None
    if person is None:
        return
    with st.container(border=True):
        me = current_user()
        if me is not None and me.id == person.user.id:
            st.caption("This is you: another administrator can deactivate you or revoke your rights.")
        role_and_status(admin, person)
        st.divider()
        their_workspaces(admin, person, spaces)


def people_tab(admin: User) -> None:
    ledger = get_ledger()
    show_link()
    invite_form(admin)
    people = ledger.people(admin)
    spaces = ledger.workspaces(admin, include_archived=True)
    if not people:
        st.info("Nobody yet: invite the first person above.", icon=":material/group:")
        return
    people_table(people, {w.id: w.name for w in spaces})
    manage(admin, people, spaces)
