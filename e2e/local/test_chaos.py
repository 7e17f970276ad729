"""Chaos under load, small: the load mix through the management API while the whole
platform is `kill -9`ed together three times (`e2e.local.chaos`); then every accepted
order ended as its kind says and the books balance. `make bench` runs a larger one."""

from __future__ import annotations

import pytest

from e2e.local.chaos import run_chaos
from e2e.local.conftest import StartPlatform
from e2e.local.load_mix import SETTINGS, load_orders

ORDERS = 36
ROUNDS = 3


@pytest.mark.timeout(600)
def test_orders_survive_the_whole_platform_killed_three_times(
    start_platform: StartPlatform,
) -> None:
    platform = start_platform(SETTINGS)
    orders = load_orders(platform.tokenize, ORDERS)

    run = run_chaos(platform, orders, ROUNDS)

    print(f"\nchaos: {run.figures()}")
    assert len(run.kills) == ROUNDS
    # Each cut came with sagas under way and calls refused while the platform was down.
    assert all(k.in_flight > 0 and k.failed_calls > 0 for k in run.kills), run.kills
    assert run.not_accepted == {}, run.not_accepted
    assert run.problems == [], "\n".join(run.problems)
    assert sum(run.outcomes.values()) == ORDERS, run.outcomes
    platform.check_running()
