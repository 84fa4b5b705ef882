"""axe-core in the browser tests: run it on the page as it is now, and sort what it finds
into what the app causes (a failure) and what Streamlit itself causes (the allow-list in
axe_allowlist.py, each entry with its reason).

axe-core comes from the npm registry through scripts/install-axe.sh (make test runs it)
into tests/e2e/.axe/, which git ignores.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .axe_allowlist import ALLOWED

AXE_JS = Path(__file__).resolve().parent / ".axe" / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.0 and 2.1, levels A and AA, and axe's best practices (as the audit of issue 17).
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
BLOCKING = {"serious", "critical"}


@dataclass(frozen=True)
class Finding:
    state: str  # which page and state
    rule: str
    impact: str
    target: str  # axe's CSS selector for the node
    html: str
    summary: str
    within: str  # the data-testid of the node and its ancestors, nearest first: "a < b < c"

    @property
    def allowed_because(self) -> str | None:
        for entry in ALLOWED:
            if entry.rule == self.rule and re.search(entry.within, self.within):
                return entry.reason
        return None

    def __str__(self) -> str:
        return (f"[{self.state}] {self.rule} ({self.impact}) at {self.target}: {self.summary}"
                f"\n    {self.html[:200]}\n    within {self.within}")


def audit(page: Any, state: str, *, include: str | None = None) -> list[Finding]:
    """Run axe on the whole document (or only inside `include`, a CSS selector) and return
    one Finding per violating node."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE_JS))
    result = page.evaluate(
        """async ([context, tags]) => {
            const r = await axe.run(context ?? document,
                                    {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
            return r.violations.map(v => ({rule: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => {
                    let node = null;
                    try { node = document.querySelector(n.target[0]); } catch (e) {}
                    const ids = [];
                    for (let e = node; e; e = e.parentElement) {
                        if (e.dataset && e.dataset.testid) ids.push(e.dataset.testid);
                    }
                    return {target: n.target.flat(3).join(' >>> '), html: n.html,
                            summary: n.failureSummary || '', within: ids.join(' < ')};
                })}));
        }""",
        [include, TAGS],
    )
    return [
        Finding(state, v["rule"], v["impact"] or "minor", n["target"], n["html"],
                f"{v['help']}. {n['summary']}".replace("\n", " "), n["within"])
        for v in result for n in v["nodes"]
    ]


def blocking(findings: list[Finding]) -> list[Finding]:
    """Serious or critical findings the app causes (not on the allow-list)."""
    return [f for f in findings if f.impact in BLOCKING and f.allowed_because is None]


def report(findings: list[Finding], path: Path) -> dict[str, Any]:
    """Counts by rule and impact, app-caused apart from allowed, written as JSON to `path`."""
    summary = {
        "by_rule": dict(Counter(f"{f.rule} ({f.impact})" for f in findings)),
        "app_caused_by_rule": dict(Counter(
            f"{f.rule} ({f.impact})" for f in findings if f.allowed_because is None)),
        "allowed_by_rule": dict(Counter(
            f"{f.rule} ({f.impact})" for f in findings if f.allowed_because is not None)),
        "findings": [f.__dict__ | {"allowed_because": f.allowed_because} for f in findings],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=1))
    return summary
