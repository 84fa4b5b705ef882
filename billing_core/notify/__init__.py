"""Telling people: events written with the changes that cause them (events.py), balance
alerts and spend spikes (alerts.py), the inbox, email and signed webhooks (service.py,
channels.py) and the dispatcher that sends them (dispatch.py, runner.py)."""

from .alerts import BalanceChange, ThresholdSettings, after_movements
from .events import Event, emit
from .service import Notifications

__all__ = ["BalanceChange", "Event", "Notifications", "ThresholdSettings", "after_movements", "emit"]
