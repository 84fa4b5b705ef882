"""People & workspaces, the Workspaces tab: add, rename, archive; members of each.

Not a page. billing_core holds every rule (names, archived workspaces, access); this draws
and asks. Names are drawn with `visible_text` (tables, pickers) or `plain` (markdown).
"""

from __future__ import annotations

from collections import Counter

import pandas as pd
import streamlit as st

from billing_core import Ledger, Person, User, Workspace
from pages._admin import change
from pages._shared import credits, get_ledger, plain
from pages._text import visible_text

KEY = "billing.people.workspaces"


def add_form(admin: User) -> None:
    with st.form(f"{KEY}.add", border=True, clear_on_submit=True):
        name = st.text_input("New workspace", key=f"{KEY}.add.name", placeholder="For example Research")
        submitted = st.form_submit_button("Add workspace", type="primary", icon=":material/add:")
    if submitted:
        change(lambda: get_ledger().add_workspace(admin, name),
               lambda made: f"Workspace {made.name} added, with an empty wallet.")
        st.rerun()


def overview(ledger: Ledger, admin: User, spaces: list[Workspace], people: list[Person]) -> None:
    members = Counter(w for p in people for w in p.workspace_ids)
    wallets = {s.wallet.workspace_id: s.wallet for s in ledger.wallets(admin)}
    rows = []
    for space in spaces:
        wallet = wallets.get(space.id) or ledger.wallet(admin, space.id)  # archived ones too
        status = "Archived" if space.archived else wallet.status.value.capitalize()
        rows.append((visible_text(space.name), status, credits(wallet.balance), members[space.id]))
    st.dataframe(pd.DataFrame(rows, columns=["Workspace", "Status", "Balance", "Members"]),
                 hide_index=True, key=f"{KEY}.table")


def rename_form(admin: User, space: Workspace) -> None:
    with st.form(f"{KEY}.rename.{space.id}", border=False):
        name = st.text_input("Name", value=space.name, key=f"{KEY}.rename.name.{space.id}")
        if st.form_submit_button("Rename"):
            change(lambda: get_ledger().rename_workspace(admin, space.id, name),
                   lambda made: f"Renamed to {made.name}.")
            st.rerun()


def members_list(admin: User, space: Workspace, people: list[Person]) -> None:
    inside = [p for p in people if space.id in p.workspace_ids]
    if not inside:
        st.caption("No members yet.")
    for person in inside:
        who, remove = st.columns([5, 1], vertical_alignment="center")
        who.text(f"{visible_text(person.user.name)} · {person.user.email}")
        remove.button(
            "Remove", key=f"{KEY}.remove.{space.id}.{person.user.id}", disabled=space.archived,
            on_click=change, args=(
                lambda u=person.user: get_ledger().remove_workspace_member(admin, space.id, u.id),
                lambda _, u=person.user: f"{u.name} is no longer a member of {space.name}.",
            ),
        )
    if space.archived:
        return
    outside = [p for p in people if space.id not in p.workspace_ids and p.user.active]
    pick, add = st.columns([5, 1], vertical_alignment="bottom")
    chosen = pick.selectbox("Add a member", outside, index=None, key=f"{KEY}.pick.{space.id}",
                            format_func=lambda p: f"{visible_text(p.user.name)} · {p.user.email}",
                            placeholder="Choose a person")
    if add.button("Add", key=f"{KEY}.add_member.{space.id}", disabled=chosen is None):
        assert chosen is not None
        change(lambda: get_ledger().add_workspace_member(admin, space.id, chosen.user.id),
               lambda _: f"{chosen.user.name} is now a member of {space.name}.")
        st.rerun()


def archive_control(admin: User, space: Workspace) -> None:
    if space.archived:
        st.info("Archived: its history stays; its wallet is inactive and it is out of every picker.",
                icon=":material/inventory_2:")
        return
    sure = st.checkbox(
        f"Archive {plain(space.name)}: its wallet becomes inactive for good and its pending "
        "requests are cancelled; its history stays", key=f"{KEY}.sure.{space.id}",
    )
    if st.button("Archive workspace", key=f"{KEY}.archive.{space.id}", disabled=not sure,
                 icon=":material/inventory_2:"):
        change(lambda: get_ledger().archive_workspace(admin, space.id),
               lambda made: f"{made.name} is archived.")
        st.rerun()


def label(space: Workspace) -> str:
    return visible_text(space.name) + (" (archived)" if space.archived else "")


def manage(admin: User, spaces: list[Workspace], people: list[Person]) -> None:
    st.header("Manage a workspace", anchor=False)
    by_id = {w.id: w for w in spaces}  # chosen by id: a rename keeps the choice
    chosen = st.selectbox("Workspace", list(by_id), key=f"{KEY}.manage", index=None,
                          format_func=lambda i: label(by_id[i]), placeholder="Choose a workspace")
    space = by_id.get(chosen) if chosen is not None else None
    if space is None:
        return
    with st.container(border=True):
        rename_form(admin, space)
        st.markdown(f"**Members of {plain(space.name)}**")
        members_list(admin, space, people)
        st.divider()
        archive_control(admin, space)


def workspaces_tab(admin: User) -> None:
    ledger = get_ledger()
    add_form(admin)
    show_archived = st.toggle("Show archived workspaces", key=f"{KEY}.archived")
    spaces = ledger.workspaces(admin, include_archived=True)
    people = ledger.people(admin)
    if not spaces:
        st.info("No workspaces yet: add the first one above.", icon=":material/workspaces:")
        return
    overview(ledger, admin, [w for w in spaces if show_archived or not w.archived], people)
    manage(admin, spaces, people)
