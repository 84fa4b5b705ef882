"""The chart specifications in pages/_charts.py: bars over time stay readable at any range."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pandas as pd
import pytest

from pages import _charts

END = date(2026, 11, 26)


def spend(days: list[date]) -> pd.DataFrame:
    return pd.DataFrame({
        "period": days,
        "feature": ["AI chat"] * len(days),
        "spent": [Decimal("12.5000")] * len(days),
        "uses": [3] * len(days),
    })


def spec(chart) -> dict:
    return chart.to_dict()


def daily(n: int) -> list[date]:
    return [END - timedelta(days=i) for i in reversed(range(n))]


def test_daily_bars_over_90_days_fill_their_slot_instead_of_being_hairlines():
    out = spec(_charts.spend_by_feature(spend(daily(90)), "day"))
    x = out["encoding"]["x"]
    assert x["type"] == "ordinal"  # one band per day, not a point in continuous time
    assert len(x["scale"]["domain"]) == 90
    assert x["scale"]["paddingInner"] == 0  # bars touch: a stepped area you can hover
    assert len(x["axis"]["values"]) <= _charts.AXIS_LABELS  # labels fit a phone
    assert "width" not in (out["mark"] if isinstance(out["mark"], dict) else {})


def test_thirty_days_are_thirty_bars_with_gaps():
    x = spec(_charts.spend_by_feature(spend(daily(30)), "day"))["encoding"]["x"]
    assert len(x["scale"]["domain"]) == 30 and x["scale"]["paddingInner"] > 0


def test_a_one_month_range_by_month_is_one_bar_of_fixed_width_not_one_across_the_axis():
    frame = spend([date(2026, 10, 1)])
    out = spec(_charts.spend_by_feature(frame, "month", start=date(2026, 10, 1),
                                        end=date(2026, 10, 31)))
    assert out["encoding"]["x"]["scale"]["domain"] == ["2026-10-01"]
    assert out["mark"]["width"] == _charts.FEW_BAR_WIDTH


def test_a_day_without_spend_keeps_its_place_on_the_axis():
    frame = spend([END - timedelta(days=9), END])  # nothing spent in between
    x = spec(_charts.spend_by_feature(frame, "day", start=END - timedelta(days=9), end=END))[
        "encoding"]["x"]
    assert x["scale"]["domain"] == [(END - timedelta(days=i)).isoformat() for i in reversed(range(10))]


@pytest.mark.parametrize(("granularity", "first", "count"), [
    ("week", date(2026, 8, 31), 13),  # Mondays, as billing_core's date_trunc('week')
    ("month", date(2026, 8, 1), 4),
])
def test_weeks_and_months_get_one_slot_each(granularity: str, first: date, count: int):
    slots = _charts.periods(granularity, date(2026, 8, 30) + timedelta(days=1), END)
    assert slots[0] == first and len(slots) == count


def test_credits_and_debits_share_a_slot_debits_drawn_down():
    frame = pd.DataFrame({
        "period": [END, END],
        "kind": ["credit", "debit"],
        "amount": [Decimal("500"), Decimal("120.5")],
    })
    chart = _charts.credits_vs_debits(frame, "day")
    out = spec(chart)
    assert "xOffset" not in out["encoding"]
    drawn = dict(zip(chart.data["kind"], chart.data["drawn"], strict=True))
    assert drawn == {"credit": 500.0, "debit": -120.5}


def test_an_empty_frame_still_makes_a_chart():
    assert spec(_charts.spend_by_feature(spend([]), "day"))["encoding"]["x"]["scale"]["domain"] == []


# --- issue 17: every chart named and summed up, colour never alone ----------------------

RED_GREEN = {"#2e7d32", "#c62828"}  # the old credit/debit and health pair (1.1:1 in brightness)


def colour_ranges(spec: dict) -> list[list[str]]:
    found = []
    for layer in [spec, *spec.get("layer", [])]:
        colour = layer.get("encoding", {}).get("color", {})
        if isinstance(colour, dict) and "range" in colour.get("scale", {}):
            found.append(colour["scale"]["range"])
    return found


def test_credits_and_debits_are_not_told_apart_by_red_and_green():
    frame = pd.DataFrame({"period": [END, END, END], "kind": ["credit", "debit", "expiry"],
                          "amount": [Decimal("500"), Decimal("120.5"), Decimal("30")]})
    (colours,) = colour_ranges(spec(_charts.credits_vs_debits(frame, "day")))
    assert not RED_GREEN & {c.lower() for c in colours}
    assert colours == [_charts.CREDIT_COLOUR, _charts.DEBIT_COLOUR, _charts.EXPIRY_COLOUR]
    assert {c.upper() for c in colours} <= set(_charts.PALETTE)  # Okabe-Ito, expiries too


def test_each_burn_rate_bar_says_its_health_in_words_beside_its_colour():
    frame = pd.DataFrame({
        "workspace": ["Acme", "Umbrella"], "balance": [Decimal("100"), Decimal("0")],
        "per_day": [Decimal("5"), Decimal("1")], "runs_out_on": [None, END],
        "health": ["OK", "Zero balance"],
    })
    out = spec(_charts.burn_rate(frame))
    marks = [layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"]
             for layer in out["layer"]]
    assert marks == ["bar", "text"]
    assert out["layer"][1]["encoding"]["text"]["field"] == "health"
    assert not RED_GREEN & {c.lower() for r in colour_ranges(out) for c in r}


@pytest.mark.parametrize(("email", "page", "count"), [
    ("alan@example.com", "pages/billing.py", 2),
    ("ada@example.com", "pages/analytics.py", 5),
    ("ada@example.com", "pages/approvals.py", 2),
])
def test_every_chart_has_a_heading_a_summary_and_an_accessible_name(app_as, email, page, count):
    at = app_as(email).run()
    at.switch_page(page).run()
    assert not at.exception
    charts = at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")
    assert len(charts) == count
    headings = {h.value for h in at.subheader}
    for chart in charts:
        name = chart.proto.alt
        title, _, summary = name.partition(". ")
        assert title in headings, (title, headings)  # its h3 names it
        assert summary.endswith(".") and len(summary) > 20, name  # one sentence
        shown = [re.sub(r"\\(.)", r"\1", m.value).replace("\u2060", "") for m in at.markdown]
        assert summary in shown, summary  # and the page says it, as its own paragraph
