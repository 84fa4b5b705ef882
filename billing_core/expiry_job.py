"""The expiry job of an app process: a background thread that runs `expire_due` now and
then. It only makes the expiry entries appear on time: any write that locks a wallet
expires that wallet's due grants first, so a late (or stopped) job never lets a debit
draw on expired credits. `billing expire` runs the same once."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

from .errors import BillingError

EVERY_VARIABLE = "BILLING_EXPIRE_EVERY"  # seconds between runs (default 60)
_log = logging.getLogger("billing.expiry")


def interval() -> float:
    """$BILLING_EXPIRE_EVERY seconds, else 60."""
    try:
        return max(0.05, float(os.environ.get(EVERY_VARIABLE) or 60))
    except ValueError:
        return 60.0


class ExpiryJob:
    """Runs `expire` every `every` seconds on a daemon thread until stopped."""

    def __init__(self, expire: Callable[[], object], every: float) -> None:
        self._expire = expire
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="billing-expiry", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                self._expire()
            except BillingError as error:  # the ledger busy or unreachable: try again next time
                _log.warning("expiring due grants failed, will retry: %s", error)
            except Exception:  # a bug: logged, and the job goes on
                _log.exception("expiring due grants failed")
            if self._stop.wait(self._every):
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=30)
