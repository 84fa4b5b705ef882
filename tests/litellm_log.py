"""A spend log in the format of the LiteLLM gateway (its LiteLLM_SpendLogs export), made up
for tests and the benchmark: one row per call, `spend` in USD with 8 decimals, `team_id`
the gateway's team (a workspace's external id)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal

import pyarrow as pa

COLUMNS = (
    "request_id", "call_type", "api_key", "spend", "total_tokens", "prompt_tokens",
    "completion_tokens", "startTime", "endTime", "model", "user", "team_id", "end_user",
)
MODELS = ("gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet", "text-embedding-3-small")


def litellm_rows(
    count: int, *, teams: list[str], start: datetime, seed: int = 7, span: timedelta = timedelta(days=1)
) -> pa.Table:
    """`count` calls spread over `span` from `start`, as the gateway exports them (every
    column text, as in its CSV download; times as '2026-11-26 10:00:00.123000')."""
    rng = random.Random(seed)
    step = span / max(count, 1)
    rows: dict[str, list[str]] = {name: [] for name in COLUMNS}
    for i in range(count):
        prompt, completion = rng.randint(10, 4_000), rng.randint(1, 1_000)
        began = start + step * i
        rows["request_id"].append(f"chatcmpl-{seed}-{i:08d}")
        rows["call_type"].append("acompletion")
        rows["api_key"].append(f"{rng.getrandbits(64):016x}")
        rows["spend"].append(str((Decimal(prompt) * Decimal("0.0000025") + Decimal(completion)
                                  * Decimal("0.00001")).quantize(Decimal("0.00000001"))))
        rows["total_tokens"].append(str(prompt + completion))
        rows["prompt_tokens"].append(str(prompt))
        rows["completion_tokens"].append(str(completion))
        rows["startTime"].append(f"{began:%Y-%m-%d %H:%M:%S.%f}")
        ended = began + timedelta(milliseconds=rng.randint(200, 9_000))
        rows["endTime"].append(f"{ended:%Y-%m-%d %H:%M:%S.%f}")
        rows["model"].append(MODELS[i % len(MODELS)])
        rows["user"].append(f"user-{rng.randint(1, 20)}")
        rows["team_id"].append(teams[i % len(teams)])
        rows["end_user"].append("")
    return pa.table({name: pa.array(values, pa.string()) for name, values in rows.items()})


def spend_total(log: pa.Table) -> Decimal:
    return sum((Decimal(v) for v in log.column("spend").to_pylist()), Decimal(0))
