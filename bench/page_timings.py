"""Time full AppTest runs of the Billing and Approvals pages over a ledger; report RSS.

Run in its own process (`python bench/page_timings.py LEDGER`) so the memory figure is the
app's: one Ledger open, both pages rendered. Prints one JSON line.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path = [p for p in sys.path if Path(p).resolve() != ROOT / "bench"]


def main() -> None:
    os.environ["BILLING_DB"] = sys.argv[1]
    os.environ["BILLING_BACKUP_EVERY"] = "off"  # the app's backup thread takes no backup here
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    from streamlit.testing.v1 import AppTest

    from pages import _shared

    ledger = _shared.get_ledger()
    admin = ledger.user_by_email("user1@bench.example")
    assert admin is not None
    member = next(u for u in ledger.users(admin) if not u.is_admin and ledger.workspaces(u))
    figures: dict[str, float] = {}
    for name, user, page in (("billing", member, "pages/billing.py"),
                             ("approvals", admin, "pages/approvals.py")):
        samples = []
        for _ in range(repeat + 1):
            at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
            at.session_state[_shared.SESSION_KEY] = ledger.start_session(user).token
            at.run()
            at.switch_page(page)
            started = time.perf_counter()
            at.run()
            samples.append((time.perf_counter() - started) * 1000)
            assert not at.exception, at.exception
        samples = sorted(samples[1:])
        figures[f"{name}_p50"] = statistics.median(samples)
        figures[f"{name}_p95"] = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
    figures["rss_mb"] = peak_rss_mb()
    print(json.dumps(figures))


def peak_rss_mb() -> float:
    """This process's peak RSS. On Linux from /proc (VmHWM): getrusage's ru_maxrss survives
    fork and exec, so in a child started by bench/run.py it would report the parent's peak
    whenever that is the larger."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
