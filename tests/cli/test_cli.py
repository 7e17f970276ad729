"""`python -m sagactl` as a user runs it: a subprocess talking HTTP to the API served
by uvicorn over the real SDK clients on the embedded sidecar. Checks what people read
(tables, lines), what scripts read (-o json / yaml) and the exit codes."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import dapr.ext.workflow as wf
import pytest
import yaml
from dapr.clients import DaprClient
from fastapi import FastAPI

from foundation.tokens import LocalIssuer
from sagactl.exit_codes import ExitCode
from services.contracts.names import SKU_CATALOGUE_KEY, STATESTORE, stock_key
from services.payment.card_api import create_card_api, serve_card_api
from testkit.polling import wait_until
from testkit.ports import free_port
from tests.api.harness import (
    WAITING_CUSTOMER,
    ServedApi,
    approval_request,
    finished,
    order,
    started,
)
from tests.cli.helpers import as_json, ok, sagactl, start
from tests.services.memory_store import MemoryStore, memory_vault


def test_run_get_and_list_for_people_and_for_scripts(
    served_api: str, client: wf.DaprWorkflowClient
) -> None:
    start(served_api, "c-1")
    finished(client, "order-c-1")
    start(served_api, "c-2", WAITING_CUSTOMER)
    started(client, "order-c-2")

    table = ok(sagactl(served_api, "workflow", "list"))
    lines = table.splitlines()
    assert lines[0].split() == ["INSTANCE", "ID", "NAME", "STATUS", "CREATED", "LAST", "UPDATED"]
    rows = {line.split()[0]: line.split()[2] for line in lines[1:]}
    assert rows == {"order-c-1": "COMPLETED", "order-c-2": "RUNNING"}

    running = as_json(
        sagactl(served_api, "workflow", "list", "--filter-status", "RUNNING", "-o", "json")
    )
    assert [run["instanceId"] for run in running] == ["order-c-2"]
    named = as_json(
        sagactl(served_api, "-o", "json", "workflow", "list", "--filter-name", "approval")
    )
    assert named == []
    paged = as_json(sagactl(served_api, "workflow", "list", "--page-size", "1", "-o", "json"))
    assert sorted(run["instanceId"] for run in paged) == ["order-c-1", "order-c-2"]

    detail = ok(sagactl(served_api, "workflow", "get", "order-c-1"))
    assert "Status" in detail
    assert "COMPLETED" in detail
    assert '"reservationId":"res-c-1"' in detail
    run = yaml.safe_load(ok(sagactl(served_api, "workflow", "get", "order-c-1", "-o", "yaml")))
    assert run["status"] == "COMPLETED"
    assert run["output"]["reservationId"] == "res-c-1"


def test_exit_codes_tell_scripts_what_went_wrong(
    served_api: str, client: wf.DaprWorkflowClient
) -> None:
    start(served_api, "x-1", WAITING_CUSTOMER)
    started(client, "order-x-1")

    missing = sagactl(served_api, "workflow", "get", "nope")
    duplicate = sagactl(
        served_api, "workflow", "run", "order_saga", "--input", json.dumps(order("x-1"))
    )
    still_running = sagactl(served_api, "workflow", "purge", "order-x-1")
    refused_input = sagactl(served_api, "workflow", "run", "order_saga", "--input", "{}")
    not_json = sagactl(served_api, "workflow", "run", "order_saga", "--input", "{oops")
    no_verb = sagactl(served_api, "workflow")
    unknown_flag = sagactl(served_api, "workflow", "list", "--nope")
    nowhere = sagactl(f"http://127.0.0.1:{free_port()}", "workflow", "list")

    assert missing.returncode == ExitCode.NOT_FOUND
    assert "WORKFLOW_NOT_FOUND" in missing.stderr
    assert duplicate.returncode == ExitCode.CONFLICT
    assert "WORKFLOW_ALREADY_EXISTS" in duplicate.stderr
    assert still_running.returncode == ExitCode.CONFLICT
    assert "WORKFLOW_NOT_TERMINAL" in still_running.stderr
    assert refused_input.returncode == ExitCode.USAGE
    assert "VALIDATION_FAILED" in refused_input.stderr
    assert not_json.returncode == ExitCode.USAGE
    assert "--input is not valid JSON" in not_json.stderr
    assert no_verb.returncode == ExitCode.USAGE
    assert unknown_flag.returncode == ExitCode.USAGE
    assert nowhere.returncode == ExitCode.CANNOT_CONNECT
    assert "cannot connect" in nowhere.stderr
    for result in (missing, duplicate, nowhere):
        assert result.stdout == ""


def test_a_token_is_sent_from_the_flag_the_environment_or_the_config_file(
    make_app: Callable[..., FastAPI],
    runtime: wf.WorkflowRuntime,
    issuer: LocalIssuer,
    tmp_path: Path,
) -> None:
    token = issuer.mint("vera", ["viewer"])
    config = tmp_path / "sagactl.yaml"
    config.write_text(f"token: {token}\n")
    config.chmod(0o600)
    shared = tmp_path / "shared.yaml"
    shared.write_text(f"token: {token}\n")
    shared.chmod(0o644)
    server = ServedApi(make_app()).start()
    try:
        refused = sagactl(server.url, "workflow", "list", token="")
        wrong = sagactl(server.url, "workflow", "list", "--token", "nope")
        from_flag = sagactl(server.url, "workflow", "list", "--token", token)
        from_env = sagactl(server.url, "workflow", "list", token=token)
        from_file = sagactl(
            server.url, "workflow", "list", token="", extra_env={"SAGACTL_CONFIG": str(config)}
        )
        readable = sagactl(
            server.url, "workflow", "list", token="", extra_env={"SAGACTL_CONFIG": str(shared)}
        )
        forbidden = sagactl(server.url, "orders", "cancel", "x", token=token)
    finally:
        server.stop()

    assert refused.returncode == ExitCode.UNAUTHORIZED
    assert "UNAUTHORIZED" in refused.stderr
    assert wrong.returncode == ExitCode.UNAUTHORIZED
    assert forbidden.returncode == ExitCode.UNAUTHORIZED
    assert "FORBIDDEN" in forbidden.stderr
    assert readable.returncode == ExitCode.USAGE
    assert "chmod 600" in readable.stderr
    # An empty listing says so on stderr, as kubectl does; stdout stays empty.
    for result in (from_flag, from_env, from_file):
        assert ok(result) == ""
        assert result.stderr.strip() == "No resources found."


def test_raise_event_suspend_resume_terminate_and_history(
    served_api: str, client: wf.DaprWorkflowClient
) -> None:
    start(served_api, "e-1", WAITING_CUSTOMER)
    started(client, "order-e-1")
    start(served_api, "e-2", WAITING_CUSTOMER)
    started(client, "order-e-2")

    assert ok(sagactl(served_api, "workflow", "suspend", "order-e-1", "--reason", "night")) == (
        "Workflow 'order-e-1' suspended\n"
    )
    wait_until(
        lambda: (
            as_json(sagactl(served_api, "workflow", "get", "order-e-1", "-o", "json"))["status"]
            == "SUSPENDED"
        )
    )
    ok(sagactl(served_api, "workflow", "resume", "order-e-1", "--reason", "morning"))
    raised = sagactl(
        served_api, "workflow", "raise-event", "order-e-1/finish", "--input", '{"ok": true}'
    )
    assert ok(raised) == "Event 'finish' raised on workflow 'order-e-1'\n"
    assert finished(client, "order-e-1").runtime_status == wf.WorkflowStatus.COMPLETED
    bad_target = sagactl(served_api, "workflow", "raise-event", "order-e-1", "--input", "1")
    assert bad_target.returncode == ExitCode.USAGE

    terminated = sagactl(
        served_api,
        "workflow",
        "terminate",
        "order-e-2",
        "--output",
        '{"by": "ops"}',
        "--format",
        "json",
    )
    assert as_json(terminated) == {"instanceId": "order-e-2"}
    assert finished(client, "order-e-2").runtime_status == wf.WorkflowStatus.TERMINATED

    history = ok(sagactl(served_api, "workflow", "history", "order-e-1"))
    assert history.splitlines()[0].split() == [
        "TYPE",
        "NAME",
        "EVENT",
        "ID",
        "TIMESTAMP",
        "DETAILS",
    ]
    assert "ExecutionSuspended" in history
    assert '{"reason":"night"}' in history
    assert "EventRaised" in history
    events = as_json(sagactl(served_api, "workflow", "history", "order-e-1", "-o", "json"))
    assert "ExecutionStarted" in [event["kind"] for event in events]
    diagram = ok(sagactl(served_api, "workflow", "history", "order-e-1", "--mermaid"))
    assert diagram.startswith("sequenceDiagram\n")
    assert "client->>wf: suspend: night" in diagram
    assert "wf-->>client: COMPLETED" in diagram


def test_purge_one_run_or_all_older_than_a_duration(
    served_api: str, client: wf.DaprWorkflowClient
) -> None:
    for order_id in ("p-1", "p-2", "p-3"):
        start(served_api, order_id)
        finished(client, f"order-{order_id}")

    assert ok(sagactl(served_api, "workflow", "purge", "order-p-1")) == (
        "Purged 1 workflow(s): order-p-1\n"
    )
    assert ok(sagactl(served_api, "workflow", "purge", "--all-older-than", "720h")) == (
        "Purged 0 workflow(s)\n"
    )
    everything = as_json(
        sagactl(served_api, "workflow", "purge", "--all-older-than", "0s", "-o", "json")
    )
    assert everything["purged"] == 2
    assert sorted(everything["instanceIds"]) == ["order-p-2", "order-p-3"]
    assert sagactl(served_api, "workflow", "purge").returncode == ExitCode.USAGE
    assert (
        sagactl(served_api, "workflow", "purge", "--all-older-than", "30d").returncode
        == ExitCode.USAGE
    )


def test_approvals_are_listed_approved_and_rejected(
    served_api: str, client: wf.DaprWorkflowClient
) -> None:
    for order_id in ("a-1", "a-2"):
        ok(
            sagactl(
                served_api,
                "workflow",
                "run",
                "approval",
                "--input",
                json.dumps(approval_request(order_id)),
            )
        )
        started(client, f"approval-{order_id}")

    table = ok(sagactl(served_api, "approvals", "list"))
    assert table.splitlines()[0].split()[:2] == ["ORDER", "ID"]
    assert {line.split()[0] for line in table.splitlines()[1:]} == {"a-1", "a-2"}
    assert "250000" in table

    assert ok(sagactl(served_api, "approvals", "approve", "a-1")) == "Order 'a-1' approved\n"
    rejected = sagactl(served_api, "approvals", "reject", "a-2", "--reason", "budget", "-o", "json")
    assert as_json(rejected) == {"orderId": "a-2", "instanceId": "approval-a-2", "approved": False}
    finished(client, "approval-a-1")
    finished(client, "approval-a-2")
    assert as_json(sagactl(served_api, "approvals", "list", "-o", "json")) == []
    again = sagactl(served_api, "approvals", "approve", "a-1")
    assert again.returncode == ExitCode.CONFLICT
    assert sagactl(served_api, "approvals", "approve", "zz").returncode == ExitCode.NOT_FOUND
    assert sagactl(served_api, "approvals", "reject", "a-1").returncode == ExitCode.USAGE
    # The approver is the token's subject: a flag naming someone else does not exist.
    named = sagactl(served_api, "approvals", "approve", "a-1", "--approver", "alice")
    assert named.returncode == ExitCode.USAGE


@pytest.fixture
def card_vault() -> Iterator[tuple[str, MemoryStore]]:
    """The payment service's card edge on a free port, its vault in memory."""
    store, port = MemoryStore(), free_port()
    server = serve_card_api(create_card_api(memory_vault(store)), "127.0.0.1", port)
    yield f"http://127.0.0.1:{port}", store
    server.should_exit = True


def test_orders_are_placed_from_flags_or_a_file(
    served_api: str, tmp_path: Path, card_vault: tuple[str, MemoryStore]
) -> None:
    vault_url, vault_store = card_vault
    from_flags = sagactl(
        served_api,
        "orders",
        "place",
        "--order-id",
        "o-1",
        "--customer",
        "cust-1",
        "--sku",
        "SKU-1:2:1250",
        "--sku",
        "SKU-2:1:500",
        "--card",
        "4111111111111111",
        "--vault-url",
        vault_url,
        "--country",
        "DE",
        "-o",
        "json",
    )
    assert as_json(from_flags) == {"orderId": "o-1", "sagaId": "order-o-1"}
    # The card went to the vault (the order carries its token instead).
    assert len(vault_store.items) == 1
    with_token = sagactl(
        served_api,
        "orders",
        "place",
        "--customer",
        "c",
        "--sku",
        "SKU-1:1:1",
        "--payment-token",
        "tok_cliCliCliCliCliCliCli",
    )
    assert "accepted" in ok(with_token)

    path = tmp_path / "order.json"
    path.write_text(json.dumps(order("o-2")))
    assert ok(sagactl(served_api, "orders", "place", "--file", str(path))) == (
        "Order 'o-2' accepted; saga instance ID: order-o-2\n"
    )
    from_stdin = sagactl(
        served_api, "orders", "place", "--file", "-", stdin=json.dumps(order("o-3"))
    )
    assert "order-o-3" in ok(from_stdin)

    incomplete = sagactl(served_api, "orders", "place", "--customer", "cust-1")
    bad_line = sagactl(
        served_api, "orders", "place", "--customer", "c", "--sku", "SKU-1:two", "--card", "4111"
    )
    short_card = ("orders", "place", "--customer", "c", "--sku", "SKU-1:1:1", "--card", "12")
    refused = sagactl(served_api, *short_card, "--vault-url", vault_url)
    both = sagactl(served_api, *short_card, "--payment-token", "tok_cliCliCliCliCliCliCli")
    for result in (incomplete, bad_line, refused, both):
        assert result.returncode == ExitCode.USAGE, result.stderr
    assert "--sku, --card or --payment-token" in incomplete.stderr
    assert "the card vault refused" in refused.stderr


def test_inventory_stock_shows_the_levels(served_api: str, dapr_client: DaprClient) -> None:
    dapr_client.save_state(STATESTORE, SKU_CATALOGUE_KEY, json.dumps(["SKU-1", "SKU-2"]))
    dapr_client.save_state(
        STATESTORE, stock_key("SKU-1"), json.dumps({"sku": "SKU-1", "available": 9, "reserved": 1})
    )
    dapr_client.save_state(
        STATESTORE, stock_key("SKU-2"), json.dumps({"sku": "SKU-2", "available": 0})
    )

    table = ok(sagactl(served_api, "inventory", "stock"))
    one = as_json(sagactl(served_api, "inventory", "stock", "--sku", "SKU-2", "-o", "json"))
    missing = sagactl(served_api, "inventory", "stock", "--sku", "SKU-9")

    assert [line.split() for line in table.splitlines()] == [
        ["SKU", "AVAILABLE", "RESERVED"],
        ["SKU-1", "9", "1"],
        ["SKU-2", "0", "0"],
    ]
    assert one == [{"sku": "SKU-2", "available": 0, "reserved": 0, "shipped": 0}]
    assert missing.returncode == ExitCode.NOT_FOUND
