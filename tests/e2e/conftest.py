"""Fixtures for the end-to-end browser tests (headless Chromium via Playwright).

Every test collected from this folder gets the ``browser`` marker, so
``pytest -m "not browser"`` leaves them out and ``pytest -m browser`` runs only them.

Chromium comes from Debian (``scripts/install-browser.sh``), never from
``playwright install``. Without ``/usr/bin/chromium`` the tests are skipped on a
developer machine and *fail* when ``CI=true``.

Fixtures
--------
``ledger_path`` (session)  -> pathlib.Path of a freshly seeded ``billing.duckdb``
``app_url``     (session)  -> "http://127.0.0.1:<port>" of ``streamlit run app.py``
                              serving that ledger (env ``BILLING_DB``)
``browser``     (session)  -> playwright.sync_api.Browser (system Chromium)
``page``        (function) -> playwright.sync_api.Page in a NEW context per test
                              (own cookies/session), viewport 1400x1000, 20 s timeout
``screenshot``  (function) -> callable ``screenshot(name) -> Path`` that saves a
                              full-page PNG to ``tests/e2e/artifacts/<name>.png``

Helper: ``wait_for_app(page)`` (``from .conftest import wait_for_app`` in a test
module of this package) blocks until Streamlit is connected and has finished running
the script.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# --------------------------------------------------------------------------- constants

E2E_DIR = Path(__file__).resolve().parent
REPO_ROOT = E2E_DIR.parents[1]
ARTIFACTS_DIR = E2E_DIR / "artifacts"

CHROMIUM = "/usr/bin/chromium"
APP_SCRIPT = "app.py"  # relative to REPO_ROOT

CHROMIUM_ARGS = [
    "--no-sandbox",  # we run as root; the sandbox refuses to start as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

VIEWPORT = {"width": 1400, "height": 1000}
DEFAULT_TIMEOUT_MS = 20_000
SERVER_START_TIMEOUT_S = 60
SEED_TIMEOUT_S = 600

# The clock of the seeded demo and of every served app: pinned, so no browser test depends
# on the wall clock or the hour it runs at (billing_core.clock reads $BILLING_CLOCK).
PINNED_CLOCK = {"BILLING_CLOCK": "2026-11-27T00:00:00Z"}

# Demo data written by `billing_core.cli seed`.
DEMO_PASSWORD = "en-credits-demo"
ADMIN_EMAIL = "ada@example.com"

# Streamlit 1.67 DOM hooks (verified against the served frontend bundle).
SEL_APP = '[data-testid="stApp"]'
SEL_APP_CONNECTED = '[data-testid="stApp"][data-test-connection-state="CONNECTED"]'
SEL_APP_IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
SEL_STATUS_WIDGET = '[data-testid="stStatusWidget"]'  # "Running..." man; only mounted while busy
SEL_SKELETON = '[data-testid="stSkeleton"], [data-testid="stAppSkeleton"]'
SEL_EXCEPTION = '[data-testid="stException"]'


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def _is_e2e_item(item: pytest.Item) -> bool:
    try:
        return Path(str(item.path)).resolve().is_relative_to(E2E_DIR)
    except (OSError, ValueError):
        return False


# --------------------------------------------------------------------------- hooks


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # This hook sees every item of the session, not only this folder's: filter.
    for item in items:
        if _is_e2e_item(item):
            item.add_marker(pytest.mark.browser)


_REPORT_KEY = pytest.StashKey[dict]()
_SERVER_LOG_KEY = pytest.StashKey[Path]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator:
    report = yield
    if _is_e2e_item(item):
        item.stash.setdefault(_REPORT_KEY, {})[report.when] = report
        err_log = item.config.stash.get(_SERVER_LOG_KEY, None)
        if report.failed and err_log is not None:
            for log in (err_log, err_log.with_name("streamlit.stdout.log")):
                if log.exists() and log.stat().st_size:
                    tail = log.read_text(errors="replace")[-6000:]
                    report.sections.append((f"{log.name} (tail)", tail))
    return report


# --------------------------------------------------------------------------- availability


@pytest.fixture(scope="session", autouse=True)
def _require_chromium() -> None:
    """Skip (locally) or fail (CI=true) when the browser stack is missing."""
    problems = []
    if not os.access(CHROMIUM, os.X_OK):
        problems.append(f"{CHROMIUM} not found; run `bash scripts/install-browser.sh`")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problems.append("python package `playwright` is not installed (pip install -e '.[test]')")
    if problems:
        reason = "browser tests need: " + "; ".join(problems)
        if _in_ci():
            pytest.fail(reason + " (CI=true: not skipping)", pytrace=False)
        pytest.skip(reason)


# --------------------------------------------------------------------------- data


def seed_ledger(db_path: Path) -> None:
    """Create and seed the demo ledger at ``db_path``. The one place to adjust seeding."""
    cmd = [sys.executable, "-m", "billing_core.cli", "seed", "--db", str(db_path)]
    try:
        proc = subprocess.run(
            cmd,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=SEED_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **PINNED_CLOCK},
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"seeding timed out after {SEED_TIMEOUT_S}s: {cmd}\n{exc.stderr}", pytrace=False)
    if proc.returncode != 0:
        pytest.fail(
            f"seeding failed (exit {proc.returncode}): {' '.join(cmd)}\n"
            f"--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-4000:]}",
            pytrace=False,
        )
    if not db_path.exists():
        pytest.fail(f"seed command succeeded but {db_path} was not created", pytrace=False)


@pytest.fixture(scope="session")
def ledger_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A freshly seeded demo ledger, shared by the whole session."""
    path = tmp_path_factory.mktemp("ledger") / "billing.duckdb"
    seed_ledger(path)
    return path


# --------------------------------------------------------------------------- server


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _health_ok(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=2) as resp:
            return resp.status == 200 and resp.read().decode().strip() == "ok"
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _stop_process_group(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def start_streamlit(
    script: str | Path,
    *,
    cwd: Path,
    env_extra: dict[str, str],
    log_dir: Path,
) -> tuple[subprocess.Popen, str, Path]:
    """Start ``streamlit run`` on a free loopback port; return (proc, base_url, stderr_log).

    Blocks until ``/_stcore/health`` answers "ok". Fails the test with the server's
    captured output if it dies or does not come up within SERVER_START_TIMEOUT_S.
    """
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(script),
        "--server.headless=true",
        f"--server.port={port}",
        "--server.address=127.0.0.1",
        "--browser.gatherUsageStats=false",
        "--server.fileWatcherType=none",
    ]  # fmt: skip
    env = {**os.environ, **PINNED_CLOCK, **env_extra, "PYTHONUNBUFFERED": "1"}
    out_log = log_dir / "streamlit.stdout.log"
    err_log = log_dir / "streamlit.stderr.log"
    with open(out_log, "wb") as out, open(err_log, "wb") as err:
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,  # own process group, so teardown can kill it whole
        )
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while True:
        if proc.poll() is not None:
            pytest.fail(
                f"streamlit exited with {proc.returncode} before becoming healthy\n"
                f"cmd: {' '.join(cmd)}\n"
                f"--- stderr ---\n{err_log.read_text(errors='replace')[-6000:]}\n"
                f"--- stdout ---\n{out_log.read_text(errors='replace')[-2000:]}",
                pytrace=False,
            )
        if _health_ok(base_url):
            return proc, base_url, err_log
        if time.monotonic() > deadline:
            _stop_process_group(proc)
            pytest.fail(
                f"streamlit not healthy at {base_url} after {SERVER_START_TIMEOUT_S}s\n"
                f"--- stderr ---\n{err_log.read_text(errors='replace')[-6000:]}",
                pytrace=False,
            )
        time.sleep(0.25)


@pytest.fixture(scope="session")
def app_url(
    request: pytest.FixtureRequest,
    ledger_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """Base URL (no trailing slash) of the app served over the seeded ledger."""
    log_dir = tmp_path_factory.mktemp("streamlit")
    proc, base_url, err_log = start_streamlit(
        APP_SCRIPT,
        cwd=REPO_ROOT,
        env_extra={"BILLING_DB": str(ledger_path)},
        log_dir=log_dir,
    )
    request.config.stash[_SERVER_LOG_KEY] = err_log
    try:
        yield base_url
    finally:
        _stop_process_group(proc)


# --------------------------------------------------------------------------- browser


@pytest.fixture(scope="session")
def browser() -> Iterator:
    from playwright.sync_api import expect, sync_playwright

    # expect() polls its condition: the same patience as every other wait here (its own
    # default, 5 s, is short for a rerun of a page while the other test worker is busy).
    expect.set_options(timeout=DEFAULT_TIMEOUT_MS)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser, request: pytest.FixtureRequest) -> Iterator:
    """A page in its own fresh browser context: no cookies or session shared between tests."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    context.set_default_navigation_timeout(DEFAULT_TIMEOUT_MS)
    pg = context.new_page()
    try:
        yield pg
    finally:
        reports = request.node.stash.get(_REPORT_KEY, {})
        call = reports.get("call")
        if call is not None and call.failed:
            try:
                _save_screenshot(pg, f"FAILED-{request.node.name}")
            except Exception:  # noqa: BLE001 -- best effort, never mask the real failure
                pass
        context.close()


# --------------------------------------------------------------------------- artifacts


def _artifacts_dir() -> Path:
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    ignore = ARTIFACTS_DIR / ".gitignore"
    if not ignore.exists():
        # Keep screenshots out of git without touching the repo's own .gitignore.
        ignore.write_text("*\n")
    return ARTIFACTS_DIR


def _save_screenshot(pg, name: str, *, full_page: bool = True) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    path = _artifacts_dir() / f"{safe}.png"
    pg.screenshot(path=str(path), full_page=full_page)
    return path


@pytest.fixture
def screenshot(page) -> Callable[..., Path]:
    """``screenshot("name")`` saves tests/e2e/artifacts/name.png (full page); returns the path."""

    def take(name: str, *, full_page: bool = True) -> Path:
        return _save_screenshot(page, name, full_page=full_page)

    return take


# --------------------------------------------------------------------------- helpers


def wait_for_app(page, *, initial_wait_ms: int = 250, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> None:
    """Block until Streamlit is connected, has finished running the script, and rendered.

    Call after ``page.goto(...)`` and after every interaction that triggers a rerun
    (click, fill+Enter, select). ``initial_wait_ms`` covers the gap between the
    interaction and the rerun actually starting: right after a click the root still
    says ``notRunning`` from the previous run, and widgets debounce (~200 ms).
    """
    from playwright.sync_api import expect

    if initial_wait_ms > 0:
        page.wait_for_timeout(initial_wait_ms)
    page.locator(SEL_APP_CONNECTED).wait_for(state="attached", timeout=timeout_ms)
    page.locator(SEL_APP_IDLE).wait_for(state="attached", timeout=timeout_ms)
    # The "Running..." status widget unmounts after a 200 ms exit transition.
    page.locator(SEL_STATUS_WIDGET).wait_for(state="detached", timeout=timeout_ms)
    expect(page.locator(SEL_SKELETON)).to_have_count(0, timeout=timeout_ms)


def sign_in(page, app_url: str, email: str, password: str = DEMO_PASSWORD) -> None:
    """Open the app and sign in through the real sign-in form."""
    page.goto(app_url)
    wait_for_app(page, initial_wait_ms=0)
    page.get_by_role("textbox", name="Email").fill(email)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    wait_for_app(page)


def open_page(page, title: str) -> None:
    """Follow the sidebar link to a page and check it rendered without an exception."""
    from playwright.sync_api import expect

    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    wait_for_app(page)
    expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()
    expect(page.locator(SEL_EXCEPTION)).to_have_count(0)
