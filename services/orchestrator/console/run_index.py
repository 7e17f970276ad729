"""The console's index of runs: newest first, filtered and searched in memory, a page at a
time, and a version number that moves whenever a run appears, changes status or goes.

Why an index: the workflow runtime lists instance ids in its own order (creation order on
the embedded sidecar, key order on daprd) and knows nothing of an order id or a customer,
so "newest first, by customer" cannot be asked of it a page at a time. The index reads each
run once and keeps a summary; a finished run never changes again, so a refresh lists the
ids (cheap: 500 a call) and reads only new and unfinished runs, as the run gauges do. The
runtime stays the one source of truth: nothing is stored, a restart rebuilds it.

Refreshes happen on demand (a page, the live stream), at most once per `min_interval`
however many browsers look; nobody looking costs nothing. A refresh runs in a thread of its
own and publishes what it has read every `_CHUNK` runs; a caller waits for it at most
`answer_within` seconds. So the first page after a start answers at once even with 10,000
runs in the store: with the runs read so far and how many are left to read, and the live
stream moves the page on as the index fills.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from services.contracts.topology import TERMINAL_RUNTIME_STATUSES
from services.orchestrator.api.schemas import as_utc, decode_payload, status_name
from services.orchestrator.api.workflow_gateway import WorkflowGateway

log = logging.getLogger("services.orchestrator.console")

# Runs read at once while the index fills: the reads are gRPC calls that mostly wait.
_READERS = 8
# Runs read between two publications of a refresh under way.
_CHUNK = 400


@dataclass(frozen=True)
class RunSummary:
    """What the runs page shows and filters on, from one read of a run."""

    instance_id: str
    name: str
    status: str
    created_at: datetime
    last_updated_at: datetime
    order_id: str | None = None
    customer_id: str | None = None
    step: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_RUNTIME_STATUSES


@dataclass(frozen=True)
class RunFilter:
    """The runs page's filters; an empty field filters nothing."""

    statuses: frozenset[str] = frozenset()
    workflow: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    search: str | None = None

    def matches(self, run: RunSummary) -> bool:
        if self.statuses and run.status not in self.statuses:
            return False
        if self.workflow and run.name != self.workflow:
            return False
        if self.created_from and run.created_at < self.created_from:
            return False
        if self.created_to and run.created_at >= self.created_to:
            return False
        if self.search:
            wanted = self.search.casefold()
            fields = (run.instance_id, run.order_id or "", run.customer_id or "")
            return any(wanted in text.casefold() for text in fields)
        return True


@dataclass(frozen=True)
class RunPage:
    items: list[RunSummary]
    total: int  # runs matching the filter, across all pages
    page: int
    page_size: int
    version: int
    unread: int = 0  # runs listed but not read yet: the index is still filling
    problem: str | None = None  # why the last refresh failed, while it has not succeeded since

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def _order_fields(data: Any) -> tuple[str | None, str | None]:
    """The order id and customer of a run's input: a saga's `{"order": {...}}`, an
    approval request, or nothing that names them."""
    if not isinstance(data, dict):
        return None, None
    nested = data.get("order")
    order: dict[str, Any] = nested if isinstance(nested, dict) else data
    order_id, customer = order.get("orderId"), order.get("customerId")
    return (
        str(order_id) if order_id is not None else None,
        str(customer) if customer is not None else None,
    )


def _step(custom_status: Any) -> str | None:
    if isinstance(custom_status, dict):
        value = custom_status.get("outcome") or custom_status.get("step")
        return str(value) if value is not None else None
    return None


def summary_from_state(state: Any) -> RunSummary:
    order_id, customer = _order_fields(decode_payload(state.serialized_input))
    return RunSummary(
        instance_id=str(state.instance_id),
        name=str(state.name),
        status=status_name(state),
        created_at=as_utc(state.created_at),
        last_updated_at=as_utc(state.last_updated_at),
        order_id=order_id,
        customer_id=customer,
        step=_step(decode_payload(state.serialized_custom_status)),
    )


@dataclass
class _Contents:
    runs: dict[str, RunSummary] = field(default_factory=dict)
    newest_first: list[RunSummary] = field(default_factory=list)
    version: int = 0
    refreshed_at: float | None = None
    unread: int = 0
    problem: str | None = None


class RunIndex:
    def __init__(
        self,
        gateway: WorkflowGateway,
        min_interval: float = 1.0,
        answer_within: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        chunk: int = _CHUNK,
    ) -> None:
        self.gateway = gateway
        self.min_interval = min_interval
        self.answer_within = answer_within
        self.clock = clock
        self.chunk = chunk
        self._contents = _Contents()
        self._lock = threading.Lock()
        self._refresh_done: threading.Event | None = None  # the refresh in flight

    @property
    def version(self) -> int:
        return self._contents.version

    def current(self) -> _Contents:
        """The contents, with a refresh started when they are older than `min_interval` and
        none is in flight; waits for the refresh in flight at most `answer_within` seconds."""
        with self._lock:
            done = self._refresh_done
            refreshed = self._contents.refreshed_at
            if done is None and (
                refreshed is None or self.clock() - refreshed >= self.min_interval
            ):
                done = self._refresh_done = threading.Event()
                threading.Thread(
                    target=self._refresh_then_signal, args=(done,), name="run-index", daemon=True
                ).start()
        if done is not None:
            done.wait(self.answer_within)
        return self._contents

    def page(self, run_filter: RunFilter, page: int, page_size: int) -> RunPage:
        contents = self.current()
        matching = [run for run in contents.newest_first if run_filter.matches(run)]
        last_page = max(1, -(-len(matching) // page_size))
        page = min(max(1, page), last_page)
        start = (page - 1) * page_size
        return RunPage(
            matching[start : start + page_size],
            len(matching),
            page,
            page_size,
            contents.version,
            contents.unread,
            contents.problem,
        )

    def get(self, instance_id: str) -> RunSummary | None:
        return self.current().runs.get(instance_id)

    def _refresh_then_signal(self, done: threading.Event) -> None:
        try:
            self._refresh()
        except Exception as error:  # the runtime unreachable, a read refused: shown, retried
            log.warning("run index refresh failed", extra={"error": str(error)})
            self._contents = replace(self._contents, problem=str(error))
        finally:
            with self._lock:
                self._refresh_done = None
            done.set()

    def _refresh(self) -> None:
        started, version = self.clock(), self._contents.version
        known = self._contents.runs
        listed = list(self.gateway.all_ids())
        stale = [i for i in listed if i not in known or not known[i].finished]
        fresh: dict[str, RunSummary] = {}
        for start in range(0, len(stale), self.chunk):
            fresh.update(
                (run.instance_id, run) for run in self._read(stale[start : start + self.chunk])
            )
            unread = sum(1 for i in stale[start + self.chunk :] if i not in known)
            if unread:
                self._publish(listed, known, fresh, unread, refreshed_at=None)
        self._publish(listed, known, fresh, 0, refreshed_at=self.clock())
        if self._contents.version == version:
            return
        log.debug(
            "run index refreshed",
            extra={
                "runs": len(self._contents.runs),
                "read": len(stale),
                "version": self._contents.version,
                "seconds": round(self.clock() - started, 3),
            },
        )

    def _publish(
        self,
        listed: list[str],
        known: dict[str, RunSummary],
        fresh: dict[str, RunSummary],
        unread: int,
        refreshed_at: float | None,
    ) -> None:
        """Runs `listed` as read so far (`fresh`, else as `known` before the refresh)."""
        before = self._contents
        runs = {i: fresh.get(i) or known[i] for i in listed if i in fresh or i in known}
        changed = runs != before.runs
        self._contents = _Contents(
            runs=runs,
            newest_first=(
                sorted(runs.values(), key=lambda r: (r.created_at, r.instance_id), reverse=True)
                if changed
                else before.newest_first
            ),
            version=before.version + (1 if changed else 0),
            refreshed_at=refreshed_at if refreshed_at is not None else before.refreshed_at,
            unread=unread,
        )

    def _read(self, ids: Iterable[str]) -> list[RunSummary]:
        """The summaries of `ids` that still exist (one may be purged since it was listed)."""
        ids = list(ids)
        if len(ids) <= 1:
            states = [self.gateway.find(i) for i in ids]
        else:
            with ThreadPoolExecutor(min(_READERS, len(ids)), "run-index") as pool:
                states = list(pool.map(self.gateway.find, ids))
        return [summary_from_state(state) for state in states if state is not None]
