"""A list of transactions that grows as the reader reaches its end (Streamlit components v2).

The rows are drawn in the page itself, so the page scrolls them: every loaded row can be
reached, and there is no scroller inside the list. Every user string is set as a DOM text
node (`textContent`), never parsed as HTML or markdown. Narrower than 640 px (a phone),
each row becomes two lines: description and amount, then feature, date and type.

The end of the list is an invisible marker watched by an IntersectionObserver. It asks for
the next page once per arrival: after a request it stays quiet until the new rows have
been drawn and the marker has left the viewport, so a marker that stays in view (a tall
screen, a short page of rows) never asks again by itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import streamlit as st


@dataclass(frozen=True, slots=True)
class Row:
    """One transaction as shown: text only (the page formats it)."""

    amount: str
    kind: str  # "credit", "debit" or "expiry": colours the amount and type
    kind_label: str
    description: str
    feature: str
    when: str


_JS = """
const STATE = new WeakMap();  // per mounted list: what outlives one run of the script

function cell(role, className, text) {
  const span = document.createElement("span");
  span.setAttribute("role", role);
  span.className = className;
  span.textContent = text;  // text, never markup
  return span;
}

function drawRow(row) {
  const [amount, kind, kindLabel, description, feature, when] = row;
  const line = document.createElement("div");
  line.setAttribute("role", "row");
  line.className = "row " + (kind === "credit" || kind === "expiry" ? kind : "debit");
  const meta = document.createElement("span");
  meta.className = "meta";
  meta.append(cell("cell", "feature", feature), cell("cell", "date", when));
  line.append(cell("cell", "amount", amount), cell("cell", "type", kindLabel),
              cell("cell", "description", description), meta);
  return line;
}

function drawHead(head, columns) {
  head.replaceChildren(...columns.map((name, i) =>
    cell("columnheader", ["amount", "type", "description", "feature", "date"][i], name)));
}

export default function ({ data, parentElement, setTriggerValue }) {
  if (!data) return;
  let table = parentElement.querySelector(".table");
  if (!table) {
    table = document.createElement("div");
    table.className = "table";
    table.setAttribute("role", "table");
    table.innerHTML = '<div class="head" role="row"></div><div class="rows" role="rowgroup"></div>';
    const end = document.createElement("div");
    end.className = "end";
    end.setAttribute("aria-hidden", "true");
    parentElement.append(table, end);
  }
  table.setAttribute("aria-label", data.label);
  const head = table.querySelector(".head");
  const body = table.querySelector(".rows");
  const end = parentElement.querySelector(".end");
  drawHead(head, data.columns);

  let state = STATE.get(parentElement);
  if (!state || state.list !== data.list || body.childElementCount !== state.drawn
      || data.rows.length < state.drawn) {
    state?.observer?.disconnect();
    state = { list: data.list, drawn: 0, token: null, away: false, asked: null, observer: null };
    STATE.set(parentElement, state);
    body.replaceChildren();
  }
  body.append(...data.rows.slice(state.drawn).map(drawRow));
  state.drawn = data.rows.length;
  state.armed = data.armed;
  state.send = setTriggerValue;
  // One observer per list (an earlier run's observer is not always cleaned up for us).
  if (!state.observer) {
    state.observer = new IntersectionObserver((entries) => {
      if (!entries[entries.length - 1].isIntersecting) {
        state.away = true;
      } else if (state.away && state.armed && state.asked !== state.token) {
        state.asked = state.token;
        state.away = false;
        state.send("reached", state.token);
      }
    });
  }
  if (state.token !== data.token) {
    // New rows are drawn: the marker must leave the view before it asks again. Observing
    // anew reports where it is now (out of view: armed; still in view: it waits).
    state.token = data.token;
    state.away = false;
    state.observer.unobserve(end);
    state.observer.observe(end);
  }
}
"""

_CSS = """
:host { display: block; }
.table {
  container-type: inline-size;
  border: 1px solid var(--st-border-color, rgba(49, 51, 63, 0.2));
  border-radius: var(--st-base-radius, 0.5rem);
  font-size: 0.875rem;
  line-height: 1.4;
}
.head, .row {
  display: grid;
  grid-template-columns: 6.5rem 4.5rem minmax(0, 3fr) minmax(0, 1.4fr) 9.5rem;
  column-gap: 0.75rem;
  padding: 0.45rem 0.75rem;
  border-bottom: 1px solid var(--st-border-color-light, rgba(49, 51, 63, 0.1));
}
.head { font-weight: 600; opacity: 0.7; }
.row:last-child { border-bottom: none; }
.meta { display: contents; }
.row span { unicode-bidi: isolate; }  /* direction marks in one cell stay in that cell */
.description, .feature { overflow-wrap: anywhere; white-space: pre-wrap; }
.amount, .date { font-variant-numeric: tabular-nums; white-space: nowrap; }
.amount { text-align: right; }
.credit .amount, .credit .type { color: #2e7d32; }
.debit .amount, .debit .type { color: #c62828; }
.expiry .amount, .expiry .type { color: #8d6e63; }
.end { height: 1px; }

@container (max-width: 640px) {
  .head { display: block; text-align: right; font-size: 0.8rem; padding-block: 0.3rem; }
  .head > :not(.date) { display: none; }
  .row {
    grid-template-columns: minmax(0, 1fr) auto;
    grid-template-areas: "description amount" "meta type";
    row-gap: 0.15rem;
  }
  .description { grid-area: description; }
  .amount { grid-area: amount; font-weight: 600; }
  .type { grid-area: type; text-align: right; font-size: 0.8rem; }
  .meta {
    grid-area: meta;
    display: flex;
    flex-wrap: wrap;
    column-gap: 0.6rem;
    font-size: 0.8rem;
    opacity: 0.75;
  }
}
"""

_component = st.components.v2.component("billing_transaction_list", html="", css=_CSS, js=_JS)


def transaction_list(
    key: str,
    rows: Sequence[Row],
    *,
    list_id: str,
    columns: Sequence[str],
    label: str,
    more: bool,
    on_end_reached: Callable[[], None],
) -> None:
    """Draw `rows` (under `columns` headers). While `more` is true, arriving at the end
    of the list calls `on_end_reached` before the next run, with
    `st.session_state[key]["reached"] == len(rows)` (so a late signal about a shorter
    list can be told apart). `list_id` names what is listed (workspace and filters):
    when it changes, the list is drawn anew instead of appended to."""
    _component(
        key=key,
        data={
            "list": list_id,
            "label": label,
            "columns": list(columns),
            "rows": [[r.amount, r.kind, r.kind_label, r.description, r.feature, r.when]
                     for r in rows],
            "token": len(rows),
            "armed": more,
        },
        on_reached_change=on_end_reached,
    )
