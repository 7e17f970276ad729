"""Cross-app workflows (Dapr 1.16): a workflow of one app calls an activity and a child
workflow of another app (`app_id=`), and a client schedules and reads a workflow of another
app; the other app's sidecar runs them on its own workers and the results come back.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import dapr.ext.workflow as wf
import pytest

from testkit.polling import wait_until
from tests.fidelity.runtimes import WAIT, AppRuntime, Sdk, output_of

Kind = wf.WorkflowHistoryEventType
SHOP, WAREHOUSE = "fidelity-shop", "fidelity-warehouse"


def start_warehouse(app: AppRuntime, sdk: Sdk) -> None:
    """The warehouse's worker: the activity and the workflow the shop's order calls, each
    saying which app ran it."""
    worker = sdk.worker(app)

    @worker.activity(name="reserve")
    def reserve(ctx: wf.WorkflowActivityContext, sku: str) -> dict[str, str]:
        return {"sku": sku, "reserved_by": WAREHOUSE, "for": ctx.workflow_id}

    @worker.workflow(name="pack")
    def pack(ctx: wf.DaprWorkflowContext, sku: str) -> Generator[Any, Any, dict[str, Any]]:
        label = yield ctx.call_activity("label", input=sku)
        return {"packed_by": WAREHOUSE, "label": label, "instance_id": ctx.instance_id}

    @worker.activity(name="label")
    def label(ctx: wf.WorkflowActivityContext, sku: str) -> str:
        return f"box-{sku}"

    worker.start()


def start_shop(app: AppRuntime, sdk: Sdk) -> None:
    """The shop's worker: an order workflow and nothing else."""
    worker = sdk.worker(app)

    @worker.workflow(name="order")
    def order(ctx: wf.DaprWorkflowContext, sku: str) -> Generator[Any, Any, dict[str, Any]]:
        reserved = yield ctx.call_activity("reserve", input=sku, app_id=WAREHOUSE)
        packed = yield ctx.call_child_workflow("pack", input=sku, app_id=WAREHOUSE)
        return {"reserved": reserved, "packed": packed}

    worker.start()


@pytest.fixture
def apps(start_app: Callable[[str], AppRuntime], sdk: Sdk) -> tuple[AppRuntime, AppRuntime]:
    shop, warehouse = start_app(SHOP), start_app(WAREHOUSE)
    start_warehouse(warehouse, sdk)
    start_shop(shop, sdk)
    return shop, warehouse


@pytest.mark.differs_on_daprd(
    "daprd 1.18.2 ignores the client's TaskRouter: it schedules and reads the workflow on the "
    "calling app"
)
def test_a_workflow_calls_an_activity_and_a_child_workflow_of_another_app(
    apps: tuple[AppRuntime, AppRuntime], sdk: Sdk
) -> None:
    shop, _ = apps
    client = sdk.client(shop)

    instance_id = client.schedule_new_workflow("order", input="SKU-1")

    result = output_of(client, instance_id)
    assert result["reserved"] == {"sku": "SKU-1", "reserved_by": WAREHOUSE, "for": instance_id}
    assert result["packed"]["packed_by"] == WAREHOUSE
    assert result["packed"]["label"] == "box-SKU-1"
    child = client.get_workflow_state(result["packed"]["instance_id"], app_id=WAREHOUSE)
    assert child is not None
    assert child.runtime_status == wf.WorkflowStatus.COMPLETED
    assert client.get_workflow_state(result["packed"]["instance_id"]) is None  # not the shop's


@pytest.mark.differs_on_daprd(
    "daprd 1.18.2 ignores the client's TaskRouter: it schedules and reads the workflow on the "
    "calling app"
)
def test_a_client_schedules_and_reads_a_workflow_of_another_app(
    apps: tuple[AppRuntime, AppRuntime], sdk: Sdk
) -> None:
    shop, warehouse = apps
    client = sdk.client(shop)

    instance_id = client.schedule_new_workflow("pack", input="SKU-2", app_id=WAREHOUSE)

    assert output_of(client, instance_id, app_id=WAREHOUSE)["label"] == "box-SKU-2"
    assert client.get_workflow_state(instance_id) is None
    assert sdk.client(warehouse).get_workflow_state(instance_id) is not None


@pytest.mark.differs_on_daprd(
    "daprd records TASK_SCHEDULED only once the other app's activity actor is found: the run "
    "is retried until then, so the test's wait for the call never ends"
)
def test_a_call_to_an_app_that_is_not_up_yet_completes_once_it_is(
    start_app: Callable[[str], AppRuntime], sdk: Sdk
) -> None:
    shop = start_app(SHOP)
    start_shop(shop, sdk)
    client = sdk.client(shop)
    instance_id = client.schedule_new_workflow("order", input="SKU-3")
    wait_until(lambda: history_has(client, instance_id, Kind.TASK_SCHEDULED), WAIT, what="the call")

    start_warehouse(start_app(WAREHOUSE), sdk)

    assert output_of(client, instance_id)["reserved"]["reserved_by"] == WAREHOUSE


def history_has(client: wf.DaprWorkflowClient, instance_id: str, kind: Kind) -> bool:
    return any(e.event_type == kind for e in client.get_workflow_history(instance_id))
