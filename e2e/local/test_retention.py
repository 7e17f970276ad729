"""Finished runs go by themselves (`RUN_RETENTION`, services/orchestrator/retention.py), on
either runtime: an order's saga is purged soon after it ended, while the services' records
of the order stay and a run still going (waiting for an approval) is left alone."""

from __future__ import annotations

from e2e.local.conftest import StartPlatform
from e2e.local.orders import order
from services.contracts.names import approval_instance_id, saga_instance_id
from services.contracts.topology import GOOD_TEST_CARD
from testkit.platform import PlatformSettings
from testkit.polling import wait_until

THRESHOLD_CENTS = 100_000
SETTINGS = PlatformSettings(
    approval_threshold_cents=THRESHOLD_CENTS,
    approval_timeout_seconds=120.0,
    inventory_seed={"RET-A": 10},
    run_retention="2s",
    run_retention_interval="500ms",
)


def test_a_finished_saga_is_purged_after_the_retention_and_a_running_one_stays(
    start_platform: StartPlatform,
) -> None:
    platform = start_platform(SETTINGS)
    token = platform.token_for(GOOD_TEST_CARD)
    done = order("ret-done", [("RET-A", 1, 1_000)], token=token)
    waiting = order("ret-wait", [("RET-A", 1, THRESHOLD_CENTS + 1_000)], token=token)
    for placed in (done, waiting):
        response = platform.api.post(
            "/v1/orders", content=placed.to_json(), headers={"content-type": "application/json"}
        )
        assert response.status_code == 202, response.text
    platform.wait_run_status(saga_instance_id("ret-done"), {"COMPLETED"})
    platform.wait_run_status(approval_instance_id("ret-wait"), {"RUNNING"})

    wait_until(
        lambda: platform.run(saga_instance_id("ret-done")) is None,
        timeout=60,
        what="the finished saga purged",
    )

    running = platform.run(saga_instance_id("ret-wait"))
    assert running is not None
    assert running["status"] == "RUNNING"
    approval = platform.run(approval_instance_id("ret-wait"))
    assert approval is not None
    assert approval["status"] == "RUNNING"
    records = platform.ledger.order("ret-done")  # the books are not runs: they stay
    assert records.payment is not None
    assert records.payment.status == "charged"
    assert records.shipment is not None
