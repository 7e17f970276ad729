"""One function per verb: read the parsed flags, make the API call(s), describe the result.

Each returns an `Output`; printing and exit codes are `main`'s business.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from pathlib import Path
from typing import Any

from services.cli.api_client import SagaApi
from services.cli.render import Output, compact, when


class UsageError(Exception):
    """Flags that parse but make no sense together, or input that is not JSON."""


def _json_argument(text: str | None, flag: str) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as error:
        raise UsageError(f"{flag} is not valid JSON: {error}") from None


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text()
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from None


def _input(args: argparse.Namespace) -> Any:
    if getattr(args, "input_file", None):
        return _json_argument(_read(args.input_file), "--input-file")
    return _json_argument(args.input, "--input")


# --- workflow -------------------------------------------------------------------------

RUN_HEADERS = ["INSTANCE ID", "NAME", "STATUS", "CREATED", "LAST UPDATED"]


def _run_row(run: dict[str, Any]) -> list[Any]:
    return [
        run["instanceId"],
        run["name"],
        run["status"],
        when(run.get("createdAt")),
        when(run.get("lastUpdatedAt")),
    ]


def workflow_run(args: argparse.Namespace, api: SagaApi) -> Output:
    started = api.start_run(args.name, _input(args), args.instance_id)
    return Output(
        started,
        message=f"Workflow '{args.name}' started with instance ID: {started['instanceId']}",
    )


def workflow_list(args: argparse.Namespace, api: SagaApi) -> Output:
    runs = api.all_runs(args.filter_status, args.filter_name, args.page_size)
    return Output(runs, RUN_HEADERS, [_run_row(run) for run in runs])


def workflow_get(args: argparse.Namespace, api: SagaApi) -> Output:
    run = api.get_run(args.instance_id)
    failure = run.get("failure") or {}
    fields = [
        ("Instance ID", run["instanceId"]),
        ("Name", run["name"]),
        ("Status", run["status"]),
        ("Created", when(run.get("createdAt"))),
        ("Last updated", when(run.get("lastUpdatedAt"))),
        ("Input", compact(run.get("input"), 100)),
        ("Output", compact(run.get("output"), 100)),
        ("Custom status", compact(run.get("customStatus"), 100)),
    ]
    if failure:
        fields.append(("Failure", f"{failure.get('type')}: {failure.get('message')}"))
    return Output(run, ["FIELD", "VALUE"], [list(field) for field in fields])


def workflow_history(args: argparse.Namespace, api: SagaApi) -> Output:
    if args.mermaid:
        return Output(None, raw=api.mermaid(args.instance_id))
    history = api.history(args.instance_id)
    rows = [
        [
            event["kind"],
            event.get("name") or "",
            event["eventId"],
            when(event.get("timestamp")),
            compact(event.get("details") or None),
        ]
        for event in history["events"]
    ]
    return Output(history["events"], ["TYPE", "NAME", "EVENT ID", "TIMESTAMP", "DETAILS"], rows)


def workflow_raise_event(args: argparse.Namespace, api: SagaApi) -> Output:
    instance_id, _, event = args.target.partition("/")
    if not instance_id or not event:
        raise UsageError("expected INSTANCE_ID/EVENT_NAME, e.g. order-42/finish")
    accepted = api.raise_event(instance_id, event, _input(args))
    return Output(accepted, message=f"Event '{event}' raised on workflow '{instance_id}'")


def workflow_suspend(args: argparse.Namespace, api: SagaApi) -> Output:
    accepted = api.suspend(args.instance_id, args.reason)
    return Output(accepted, message=f"Workflow '{args.instance_id}' suspended")


def workflow_resume(args: argparse.Namespace, api: SagaApi) -> Output:
    accepted = api.resume(args.instance_id, args.reason)
    return Output(accepted, message=f"Workflow '{args.instance_id}' resumed")


def workflow_terminate(args: argparse.Namespace, api: SagaApi) -> Output:
    accepted = api.terminate(args.instance_id, _json_argument(args.run_output, "--output"))
    return Output(accepted, message=f"Workflow '{args.instance_id}' terminated")


def workflow_purge(args: argparse.Namespace, api: SagaApi) -> Output:
    if bool(args.instance_ids) == bool(args.all_older_than):
        raise UsageError("give instance IDs or --all-older-than DURATION (one of them)")
    if args.all_older_than:
        result = api.purge_older_than(args.all_older_than)
    else:
        ids: list[str] = []
        for instance_id in args.instance_ids:  # stops at the first that cannot be purged
            ids += api.purge(instance_id)["instanceIds"]
        result = {"purged": len(ids), "instanceIds": ids}
    purged = result["instanceIds"]
    message = f"Purged {result['purged']} workflow(s)" + (
        f": {', '.join(purged)}" if purged else ""
    )
    return Output(result, message=message)


# --- orders, approvals, inventory -----------------------------------------------------


def _line(text: str) -> dict[str, Any]:
    parts = text.split(":")
    if len(parts) != 3:
        raise UsageError(f"--sku '{text}': expected SKU:QUANTITY:UNIT_PRICE_CENTS")
    sku, quantity, price = parts
    try:
        return {"sku": sku, "quantity": int(quantity), "unitPriceCents": int(price)}
    except ValueError:
        raise UsageError(f"--sku '{text}': quantity and price must be integers") from None


def _order_from_flags(args: argparse.Namespace) -> dict[str, Any]:
    missing = [
        flag
        for flag, value in (
            ("--customer", args.customer),
            ("--sku", args.sku),
            ("--card", args.card),
        )
        if not value
    ]
    if missing:
        raise UsageError(f"without --file, {', '.join(missing)} must be given")
    return {
        "orderId": args.order_id or f"ord-{uuid.uuid4().hex[:12]}",
        "customerId": args.customer,
        "items": [_line(text) for text in args.sku],
        "currency": args.currency,
        "cardNumber": args.card,
        "shippingAddress": {
            "line1": args.line1,
            "city": args.city,
            "postalCode": args.postal_code,
            "country": args.country,
        },
    }


def orders_place(args: argparse.Namespace, api: SagaApi) -> Output:
    order = _json_argument(_read(args.file), "--file") if args.file else _order_from_flags(args)
    accepted = api.place_order(order)
    return Output(
        accepted,
        message=f"Order '{accepted['orderId']}' accepted; saga instance ID: {accepted['sagaId']}",
    )


def approvals_list(args: argparse.Namespace, api: SagaApi) -> Output:
    items = api.approvals()["items"]
    rows = [
        [
            item["orderId"],
            item.get("amountCents", ""),
            item.get("currency") or "",
            item.get("customerId") or "",
            item["status"],
            when(item.get("requestedAt")),
            when(item.get("expiresAt")),
        ]
        for item in items
    ]
    headers = [
        "ORDER ID",
        "AMOUNT (CENTS)",
        "CURRENCY",
        "CUSTOMER",
        "STATUS",
        "REQUESTED",
        "EXPIRES",
    ]
    return Output(items, headers, rows)


def approvals_approve(args: argparse.Namespace, api: SagaApi) -> Output:
    decided = api.approve(args.order_id, args.approver)
    return Output(decided, message=f"Order '{args.order_id}' approved by {args.approver}")


def approvals_reject(args: argparse.Namespace, api: SagaApi) -> Output:
    decided = api.reject(args.order_id, args.approver, args.reason)
    return Output(decided, message=f"Order '{args.order_id}' rejected by {args.approver}")


def inventory_stock(args: argparse.Namespace, api: SagaApi) -> Output:
    items = api.stock(args.sku)["items"]
    rows = [[item["sku"], item["available"], item.get("reserved", 0)] for item in items]
    return Output(items, ["SKU", "AVAILABLE", "RESERVED"], rows)
