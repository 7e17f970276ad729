"""`sagactl orders cancel`, `sagactl audit` and `sagactl dead-letters` against the real API."""

from __future__ import annotations

import json

import dapr.ext.workflow as wf
import pytest
from dapr.clients import DaprClient

from sagactl.exit_codes import ExitCode
from services.contracts.names import EventType
from services.orchestrator.dead_letters import DeadLetterEntry, DeadLetterInbox
from tests.api.harness import WAITING_CUSTOMER, started
from tests.cli.helpers import as_json, ok, sagactl, start


def test_orders_cancel_raises_the_cancellation_and_the_audit_shows_it(
    served_api: str, client: wf.DaprWorkflowClient
) -> None:
    start(served_api, "c-1", WAITING_CUSTOMER)
    started(client, "order-c-1")

    cancelled = sagactl(served_api, "orders", "cancel", "c-1", "--reason", "customer asked")
    unknown = sagactl(served_api, "orders", "cancel", "nobody")

    assert ok(cancelled) == (
        "Order 'c-1' is being cancelled: saga order-c-1 compensates what it did\n"
    )
    assert unknown.returncode == ExitCode.NOT_FOUND
    assert "ORDER_NOT_FOUND" in unknown.stderr
    table = ok(sagactl(served_api, "audit")).splitlines()
    assert table[0].split() == ["ID", "AT", "ACTOR", "ACTION", "TARGET", "REASON"]
    assert table[1].split()[3:] == ["tester", "cancel", "c-1", "customer", "asked"]
    records = as_json(sagactl(served_api, "audit", "--action", "start", "-o", "json"))
    assert [(r["action"], r["target"]) for r in records] == [("start", "order-c-1")]
    assert as_json(sagactl(served_api, "audit", "--since", "1h", "--limit", "1", "-o", "json"))
    assert as_json(sagactl(served_api, "audit", "--actor", "nobody", "-o", "json")) == []


@pytest.fixture
def dead_letter(dapr_client: DaprClient) -> int:
    """One dead letter in the inbox, as the orchestrator's subscription keeps it."""
    entry = DeadLetterEntry.model_validate(
        {
            "receivedAt": "2026-01-02T03:04:05Z",
            "topic": "approvals",
            "deadLetterTopic": "approvals-dead-letter",
            "source": "app",
            "reason": "invalid ApprovalDecided: approver: Field required",
            "appId": "orchestrator",
            "eventType": EventType.APPROVAL_DECIDED,
            "eventId": "ev-1",
            "data": json.dumps({"orderId": "d-1", "approved": True}),
        }
    )
    number = DeadLetterInbox(dapr_client).keep(entry)
    assert number is not None
    return number


def test_dead_letters_are_listed_inspected_and_replayed(served_api: str, dead_letter: int) -> None:
    listing = ok(sagactl(served_api, "dead-letters", "list")).splitlines()
    shown = ok(sagactl(served_api, "dead-letters", "get", str(dead_letter)))
    replayed = ok(sagactl(served_api, "dead-letters", "replay", str(dead_letter)))
    again = as_json(sagactl(served_api, "dead-letters", "get", str(dead_letter), "-o", "json"))
    missing = sagactl(served_api, "dead-letters", "get", "999")
    malformed = sagactl(served_api, "dead-letters", "replay", "first")

    assert listing[0].split() == ["ID", "RECEIVED", "TOPIC", "TYPE", "SOURCE", "REASON", "REPLAYS"]
    assert listing[1].split()[:6] == [
        str(dead_letter),
        "2026-01-02",
        "03:04:05Z",
        "approvals",
        "approval.decided",
        "app",
    ]
    assert "Reason:      invalid ApprovalDecided: approver: Field required" in shown
    assert "Replays:     none" in shown
    assert replayed == (
        f"Dead letter {dead_letter} published again on 'approvals' as approval.decided\n"
    )
    assert [replay["by"] for replay in again["replays"]] == ["tester"]
    assert missing.returncode == ExitCode.NOT_FOUND
    assert malformed.returncode == ExitCode.USAGE
