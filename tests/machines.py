"""Running a hypothesis state machine over a fresh ledger per example (the unit tests'
models of the ledger: test_properties, test_grants_model)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, run_state_machine_as_test

from billing_core import Ledger


def run_machine(machine: type[RuleBasedStateMachine], new_ledger: Callable[..., Ledger], *,
                examples: int, steps: int) -> None:
    """Run `machine`, which opens its ledger with its class attribute `new_ledger` (the
    test's fixture, lent for the run)."""
    holder: Any = machine
    holder.new_ledger = new_ledger
    try:
        run_state_machine_as_test(
            machine,
            settings=settings(max_examples=examples, stateful_step_count=steps, deadline=None,
                              suppress_health_check=[HealthCheck.too_slow]),
        )
    finally:
        del holder.new_ledger
