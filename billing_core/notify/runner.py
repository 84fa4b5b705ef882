"""The dispatcher loop: a background thread of the app process, or `billing notify run`
as a worker of its own (several of them may share a PostgreSQL ledger)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ..errors import BillingError

_log = logging.getLogger("billing.notify")
PASS_SECONDS = 2.0  # how often due deliveries are looked for
SPIKES_EVERY = 300.0  # seconds between looks for spend spikes
LEVELS_EVERY = 600.0  # seconds between refreshes of the balance levels (the burn rate moves)


class Dispatcher:
    """Runs `deliver_due` every few seconds and the periodic passes less often, until stopped.
    `deliver`, `spikes` and `levels` are the Ledger's own methods."""

    def __init__(
        self, deliver: Callable[[], int], spikes: Callable[[], int], levels: Callable[[], int]
    ) -> None:
        self._passes: list[tuple[Callable[[], int], float]] = [
            (deliver, PASS_SECONDS),
            (spikes, SPIKES_EVERY),
            (levels, LEVELS_EVERY),
        ]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """Every pass once (the CLI's --once); returns how many deliveries were tried."""
        tried = self._safely(self._passes[0][0])
        for run, _ in self._passes[1:]:
            self._safely(run)
        return tried

    def start(self) -> Dispatcher:
        self._thread = threading.Thread(target=self.run_forever, name="billing-dispatcher", daemon=True)
        self._thread.start()
        return self

    def run_forever(self) -> None:
        due = [0.0] * len(self._passes)
        while not self._stop.is_set():
            now = time.monotonic()
            for i, (run, every) in enumerate(self._passes):
                if now >= due[i]:
                    self._safely(run)
                    due[i] = now + every
            self._stop.wait(PASS_SECONDS)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    @staticmethod
    def _safely(run: Callable[[], int]) -> int:
        try:
            return run()
        except BillingError as error:  # the ledger is busy or unreachable: the next pass tries again
            _log.warning("dispatcher pass %s: %s", getattr(run, "__name__", run), error)
        except Exception:  # a bug: logged, and the thread lives on
            _log.exception("dispatcher pass %s failed", getattr(run, "__name__", run))
        return 0
