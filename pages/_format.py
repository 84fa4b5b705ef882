"""How pages write times and amounts: the viewer's time zone, to the minute, and en-credits
with one number format. Not a page (the underscore keeps it out of navigation)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import streamlit as st

import billing_core


def viewer_timezone() -> ZoneInfo:
    name = st.context.timezone or "UTC"
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def local_time(moment: datetime | None) -> str:
    """A time in the viewer's zone, to the minute; at the ends of the calendar, where the
    zone's offset would leave the years a datetime can hold, in UTC (marked so)."""
    if moment is None:
        return ""
    try:
        return _minute(moment.astimezone(viewer_timezone()))
    except (OverflowError, ValueError):
        return _minute(moment) + " UTC"


def _minute(moment: datetime) -> str:
    """`2026-11-27 09:05`, the year always four digits (strftime gives "1" for year 1)."""
    return f"{moment.year:04d}-{moment:%m-%d %H:%M}"


def credits(amount: object) -> str:
    return billing_core.format_credits(amount if isinstance(amount, Decimal) else Decimal(str(amount)))


def figure(amount: object) -> str:
    """An amount without its unit (`"1,234.50"`), for metrics whose label names the unit."""
    value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    return billing_core.format_credits(value, unit=False)
