"""What the generator knows about each order while the demo runs, how it learns it (the
saga's run, `GET /v1/runs/order-<id>`), and the view it tells (`view.py` draws it)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from demo.orders import DemoOrder
from demo.outcomes import is_terminal, stage
from demo.scenarios import EXPECTED
from sagactl.api_client import ApiCallFailed, CannotConnect, SagaApi


@dataclass
class Tracked:
    demo: DemoOrder
    due: float  # seconds after the start when it is placed
    placed_at: float | None = None
    stage: str = "pending"  # pending, queued, a saga step, then the outcome
    run: dict[str, Any] | None = None
    approval_seen_at: float | None = None
    decided: bool = False

    @property
    def terminal(self) -> bool:
        return is_terminal(self.run)


@dataclass
class Progress:
    """What the view shows: every order and where it is."""

    run_id: str
    api_url: str
    started: float
    tracked: list[Tracked]

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


class View:
    """Told of the progress every round and of each event (an approval asked for or
    decided, a saga ended); this base shows nothing (the terminal views are in `view.py`)."""

    def update(self, progress: Progress) -> None:
        pass

    def event(self, progress: Progress, text: str) -> None:
        pass

    def close(self, progress: Progress) -> None:
        pass


def follow(api: SagaApi, progress: Progress, view: View) -> None:
    """Reads the run of every placed order that has not ended; tells the view of each end."""
    for item in progress.tracked:
        if item.placed_at is None or item.terminal:
            continue
        try:
            run = api.get_run(item.demo.saga_id)
        except (ApiCallFailed, CannotConnect):
            # WORKFLOW_NOT_FOUND: the orders subscription has not started it yet; anything
            # else may pass: asked again next round, until the deadline.
            continue
        item.run = run
        item.stage = stage(run)
        if item.terminal:
            expected = EXPECTED[item.demo.kind].outcome
            mark = "" if item.stage == expected else f"  (expected {expected})"
            view.event(progress, f"{item.demo.order_id} {item.demo.kind}: {item.stage}{mark}")
