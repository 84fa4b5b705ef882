"""Page tests run on one store: a page reads only through billing_core, and
tests/unit/test_stores_agree.py checks that both stores give the same answers to every
read a page makes."""

from __future__ import annotations

import pytest


@pytest.fixture
def store() -> str:
    return "duckdb"
