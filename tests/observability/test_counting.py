"""Counting facts once although delivery is at least once: the same saga finishing twice
(a re-dispatched activity, a redelivered message) or the same bad message dead-lettered
twice counts once; `Once` forgets only past its window."""

from __future__ import annotations

import uuid

from prometheus_client import REGISTRY

from services.common.metrics import DeadLetterReason, Once, count_dead_letter
from services.contracts.messages import OrderStatus
from services.contracts.names import AppId, Topic
from services.orchestrator import metrics
from services.orchestrator.workflow_io import SagaTimings, Timing


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_once_remembers_within_its_window() -> None:
    once = Once(window=2)
    assert once.first("a")
    assert not once.first("a")
    assert once.first("b")
    assert once.first("c")  # "a" leaves the window
    assert once.first("a")


def test_a_saga_finishing_twice_counts_once() -> None:
    saga_id = f"order-{uuid.uuid4().hex}"
    status = OrderStatus(
        order_id=saga_id.removeprefix("order-"),
        saga_id=saga_id,
        outcome="compensated",
        failed_step="charge",
        compensations=["release"],
    )
    timings = SagaTimings(
        steps=[
            Timing(name="reserve", result="success", seconds=0.2),
            Timing(name="charge", result="failure", seconds=0.3),
        ],
        compensations=[Timing(name="release", result="acknowledged", seconds=0.1)],
    )
    finished = {"outcome": "compensated", "failed_step": "charge"}
    released = {"compensation": "release", "result": "acknowledged"}
    charged = {"step": "charge", "result": "failure"}
    before = (
        _value("saga_finished_total", **finished),
        _value("saga_compensations_total", **released),
        _value("saga_step_duration_seconds_count", **charged),
    )
    metrics.record_saga_finished(status, timings)
    metrics.record_saga_finished(status, timings)  # the activity ran again
    after = (
        _value("saga_finished_total", **finished),
        _value("saga_compensations_total", **released),
        _value("saga_step_duration_seconds_count", **charged),
    )
    assert [b - a for a, b in zip(before, after, strict=True)] == [1.0, 1.0, 1.0]


def test_a_saga_started_twice_counts_once() -> None:
    saga_id = f"order-{uuid.uuid4().hex}"
    before = _value("saga_started_total")
    metrics.record_saga_started(saga_id)
    metrics.record_saga_started(saga_id)
    assert _value("saga_started_total") - before == 1.0


def test_a_redelivered_bad_message_is_one_dead_letter() -> None:
    app, topic, reason = AppId.PAYMENT, Topic.PAYMENT_COMMANDS, DeadLetterReason.INVALID_MESSAGE
    labels = {"app_id": app, "topic": topic, "reason": reason}
    before = _value("saga_dead_letters_total", **labels)
    event_id = uuid.uuid4().hex
    for _ in range(2):
        count_dead_letter(app, topic, event_id, reason)
    count_dead_letter(app, topic, uuid.uuid4().hex, reason)
    assert _value("saga_dead_letters_total", **labels) - before == 2.0


def test_outcome_series_exist_before_the_first_saga() -> None:
    """`increase()` needs a 0 before the first 1: every outcome and compensation is declared."""
    metrics.declare()
    assert (
        REGISTRY.get_sample_value(
            "saga_finished_total", {"outcome": "compensation_failed", "failed_step": "ship"}
        )
        is not None
    )
    assert (
        REGISTRY.get_sample_value(
            "saga_compensations_total", {"compensation": "refund", "result": "failed"}
        )
        is not None
    )
