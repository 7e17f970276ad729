"""Waiting for a condition with a deadline: the one way tests synchronise with processes.

A fixed sleep is either too short on a loaded machine or wasted time on an idle one;
polling a probe until a deadline is neither, and a timeout names what never happened.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    probe: Callable[[], T | None], timeout: float = 30.0, interval: float = 0.05, what: str = ""
) -> T:
    """Polls `probe` until it returns something truthy (returned), failing after `timeout`
    seconds with a `TimeoutError` that says `what` was awaited. A probe may raise to fail
    at once, e.g. when the process it waits for exited."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what or probe}")
        time.sleep(interval)


def wait_for_matches(
    items: Callable[[], list[T]],
    predicate: Callable[[T], bool],
    count: int = 1,
    timeout: float = 30.0,
    interval: float = 0.05,
    what: str = "",
) -> list[T]:
    """Until at least `count` of `items()` satisfy `predicate`; returns all that do."""

    def probe() -> list[T] | None:
        matching = [item for item in items() if predicate(item)]
        return matching if len(matching) >= count else None

    return wait_until(probe, timeout=timeout, interval=interval, what=what)
