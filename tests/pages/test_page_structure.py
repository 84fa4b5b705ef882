"""The pages' shape (issue 12): each page is a short script that calls small render
functions in small modules; states are enums, never strings compared in a page; no page
reads a request id out of an error message; one notice helper queues what a callback
has to say."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted(p for p in (ROOT / "pages").glob("*.py") if not p.name.startswith("_"))
HELPERS = sorted((ROOT / "pages").glob("_*.py"))
# The values of billing_core's StrEnums that pages meet (request, wallet and entry states,
# approval verdicts): a page names them through the enum.
STATE_WORDS = ("approve", "reject", "active", "inactive", "pending", "approved", "rejected",
               "cancelled", "credit", "debit", "error", "warning")


def code_lines(path: Path) -> int:
    """Lines that are neither blank nor the module docstring."""
    tree = ast.parse(path.read_text())
    doc = tree.body[0] if tree.body and isinstance(tree.body[0], ast.Expr) else None
    skip = set(range(doc.lineno, doc.end_lineno + 1)) if doc and doc.end_lineno else set()
    lines = path.read_text().splitlines()
    return sum(1 for n, line in enumerate(lines, 1) if line.strip() and n not in skip)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_a_page_is_a_short_script(page: Path):
    assert code_lines(page) <= 50, f"{page.name}: {code_lines(page)} lines of code"


@pytest.mark.parametrize("module", HELPERS, ids=lambda p: p.name)
def test_a_page_module_is_small(module: Path):
    assert code_lines(module) <= 250, f"{module.name}: {code_lines(module)} lines of code"


def string_states(tree: ast.AST) -> list[str]:
    """State words written as string literals in a comparison (`x == "approve"`,
    `s in ("active", ...)`)."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        for side in (node.left, *node.comparators):
            items = side.elts if isinstance(side, ast.Tuple | ast.List | ast.Set) else [side]
            found += [i.value for i in items if isinstance(i, ast.Constant)
                      and isinstance(i.value, str) and i.value in STATE_WORDS]
    return found


@pytest.mark.parametrize("module", PAGES + HELPERS, ids=lambda p: p.name)
def test_no_state_is_a_string_compared_in_a_page(module: Path):
    found = string_states(ast.parse(module.read_text()))
    assert not found, f"{module.name} compares states as strings: {found}"


@pytest.mark.parametrize("module", PAGES + HELPERS, ids=lambda p: p.name)
def test_no_page_searches_error_messages(module: Path):
    """A request's outcome carries its id from the caller's side: nothing reads an id (or
    anything else) back out of an error's message with a regular expression."""
    source = module.read_text()
    searched = [
        ast.get_source_segment(source, node) or ""
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name) and node.func.value.id == "re"
        and any(re.search(r"error|message", ast.get_source_segment(source, a) or "")
                for a in node.args[1:])
    ]
    assert not searched, f"{module.name} searches an error message: {searched}"


@pytest.mark.parametrize("module", PAGES + HELPERS, ids=lambda p: p.name)
def test_notices_are_queued_only_through_the_notice_helper(module: Path):
    """A callback's outcome waits in session state under the helper's key only: no page
    keeps its own flash, notice or error key."""
    if module.name == "_notice.py":
        return
    text = module.read_text()
    own = re.findall(r'^[A-Z_]*(?:FLASH|NOTICE_KEY|ERROR_KEY)[A-Z_]*\s*=', text, re.M)
    assert not own, f"{module.name} keeps its own notice key: {own}"
