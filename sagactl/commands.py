"""One function per verb: read the parsed flags, make the API call(s), describe the result.

Each returns an `Output`; printing and exit codes are `main`'s business.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from foundation.durations import parse_go_duration
from sagactl import card_vault
from sagactl.api_client import KEEP_INPUT, RunFilter, SagaApi
from sagactl.render import Output, compact, when
from sagactl.waterfall import render_waterfall


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


def moment(text: str, flag: str, *, past: bool) -> datetime:
    """A Go duration from now (back in time when `past`) or a timestamp (UTC when it names
    no zone): how `dapr workflow` reads --start-time, --filter-max-age and --all-older-than."""
    try:
        duration = parse_go_duration(text)
    except ValueError:
        pass
    else:
        return datetime.now(UTC) + (-duration if past else duration)
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"{flag} '{text}': expected a Go duration (90s, 1h30m, 720h) or a timestamp "
            "(2025-01-02T15:04:05Z, 2025-01-02)"
        ) from None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _width(args: argparse.Namespace, short: int) -> int | None:
    """Table cells are cut to `short` characters, except with -o wide."""
    return None if args.output_format == "wide" else short


def _refuse_state_store_flags(args: argparse.Namespace) -> None:
    for flag, value in (
        ("--connection-string", args.connection_string),
        ("--table-name", args.table_name),
    ):
        if value is not None:
            raise UsageError(
                f"{flag}: sagactl reads workflows through the management API, never from "
                "the actor state store; leave it out"
            )


# --- workflow -------------------------------------------------------------------------

RUN_HEADERS = ["INSTANCE ID", "NAME", "STATUS", "CREATED", "LAST UPDATED"]
WIDE_RUN_HEADERS = [*RUN_HEADERS, "CUSTOM STATUS", "FAILURE MESSAGE"]


def _run_row(run: dict[str, Any], wide: bool) -> list[Any]:
    row = [
        run["instanceId"],
        run["name"],
        run["status"],
        when(run.get("createdAt")),
        when(run.get("lastUpdatedAt")),
    ]
    if wide:
        row += [compact(run.get("customStatus"), None), (run.get("failure") or {}).get("message")]
    return row


def workflow_run(args: argparse.Namespace, api: SagaApi) -> Output:
    start_time = moment(args.start_time, "--start-time", past=False) if args.start_time else None
    started = api.start_run(args.name, _input(args), args.instance_id, start_time)
    message = f"Workflow '{args.name}' started with instance ID: {started['instanceId']}"
    if start_time:
        message += f" (scheduled for {start_time:%Y-%m-%d %H:%M:%S}Z)"
    return Output(started, message=message)


def workflow_list(args: argparse.Namespace, api: SagaApi) -> Output:
    _refuse_state_store_flags(args)
    max_age = args.filter_max_age
    where = RunFilter(
        status=args.filter_status,
        name=args.filter_name,
        created_after=moment(max_age, "--filter-max-age", past=True) if max_age else None,
    )
    runs = api.all_runs(where, args.page_size)
    if args.output_format == "ids":
        return Output(runs, message="\n".join(run["instanceId"] for run in runs) or None)
    wide = args.output_format == "wide"
    return Output(
        runs,
        WIDE_RUN_HEADERS if wide else RUN_HEADERS,
        [_run_row(run, wide) for run in runs],
    )


def workflow_get(args: argparse.Namespace, api: SagaApi) -> Output:
    run = api.get_run(args.instance_id)
    failure = run.get("failure") or {}
    width = _width(args, 100)
    fields = [
        ("Instance ID", run["instanceId"]),
        ("Name", run["name"]),
        ("Status", run["status"]),
        ("Created", when(run.get("createdAt"))),
        ("Last updated", when(run.get("lastUpdatedAt"))),
        ("Input", compact(run.get("input"), width)),
        ("Output", compact(run.get("output"), width)),
        ("Custom status", compact(run.get("customStatus"), width)),
    ]
    if failure:
        fields.append(("Failure", f"{failure.get('type')}: {failure.get('message')}"))
    return Output(run, ["FIELD", "VALUE"], [list(field) for field in fields])


def workflow_history(args: argparse.Namespace, api: SagaApi) -> Output:
    if args.mermaid:
        return Output(None, raw=api.mermaid(args.instance_id))
    history = api.history(args.instance_id)
    width = _width(args, 60)
    rows = [
        [
            event["kind"],
            event.get("name") or "",
            event["eventId"],
            when(event.get("timestamp")),
            compact(event.get("details") or None, width),
        ]
        for event in history["events"]
    ]
    return Output(history["events"], ["TYPE", "NAME", "EVENT ID", "TIMESTAMP", "DETAILS"], rows)


def workflow_trace(args: argparse.Namespace, api: SagaApi) -> Output:
    """The saga's trace from the API's local span store: a waterfall, or the spans as data."""
    trace = api.trace(args.instance_id)
    if args.output_format in ("json", "yaml"):
        return Output(trace)
    width = shutil.get_terminal_size().columns
    if args.output_format == "wide":
        width = max(width, 200)
    color = sys.stdout.isatty()
    return Output(trace, raw=render_waterfall(args.instance_id, trace["spans"], width, color))


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


def workflow_rerun(args: argparse.Namespace, api: SagaApi) -> Output:
    given = args.input is not None or args.input_file is not None
    new_input = _input(args) if given else KEEP_INPUT
    started = api.rerun(args.instance_id, args.event_id, args.new_instance_id, new_input)
    start = "the beginning" if args.event_id is None else f"event {args.event_id}"
    return Output(
        started,
        message=f"Workflow '{args.instance_id}' rerun from {start} with instance ID: "
        f"{started['instanceId']}",
    )


def workflow_purge(args: argparse.Namespace, api: SagaApi) -> Output:
    _refuse_state_store_flags(args)
    if args.scheduler_namespace is not None:
        raise UsageError(
            "--scheduler-namespace: sagactl purges through the management API (the "
            "orchestrator's sidecar) and never reaches the scheduler; leave it out"
        )
    bulk = args.all or args.all_older_than is not None
    if bulk and args.instance_ids:
        raise UsageError("instance IDs cannot be combined with --all or --all-older-than")
    if args.all_filter_status and args.all_older_than is None:
        raise UsageError("--all-filter-status can only be used with --all-older-than")
    if not bulk and not args.instance_ids:
        raise UsageError("give instance IDs, --all or --all-older-than DURATION")
    if bulk:
        older = args.all_older_than
        cutoff = moment(older, "--all-older-than", past=True) if older is not None else None
        result = api.purge_runs(cutoff, args.all_filter_status, args.force)
    else:
        ids: list[str] = []
        for instance_id in args.instance_ids:  # stops at the first that cannot be purged
            ids += api.purge(instance_id, args.force)["instanceIds"]
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
            ("--card or --payment-token", args.card or args.payment_token),
        )
        if not value
    ]
    if missing:
        raise UsageError(f"without --file, {', '.join(missing)} must be given")
    items = [_line(text) for text in args.sku]
    return {
        "orderId": args.order_id or f"ord-{uuid.uuid4().hex[:12]}",
        "customerId": args.customer,
        "items": items,
        "currency": args.currency,
        "paymentToken": args.payment_token or _tokenized(args, args.card),
        "shippingAddress": {
            "line1": args.line1,
            "city": args.city,
            "postalCode": args.postal_code,
            "country": args.country,
        },
    }


def _tokenized(args: argparse.Namespace, number: str) -> str:
    """The card's token: the number goes to the card vault, never to the management API."""
    return card_vault.tokenize(card_vault.vault_url(args.vault_url), number)["token"]


def _order_from_file(args: argparse.Namespace) -> Any:
    """The order of --file; a `cardNumber` in it is swapped for its token first."""
    order = _json_argument(_read(args.file), "--file")
    if isinstance(order, dict) and "cardNumber" in order:
        number = str(order.pop("cardNumber") or "")
        order["paymentToken"] = _tokenized(args, number)
    return order


def orders_place(args: argparse.Namespace, api: SagaApi) -> Output:
    order = _order_from_file(args) if args.file else _order_from_flags(args)
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


def inventory_stock(args: argparse.Namespace, api: SagaApi) -> Output:
    items = api.stock(args.sku)["items"]
    rows = [[item["sku"], item["available"], item.get("reserved", 0)] for item in items]
    return Output(items, ["SKU", "AVAILABLE", "RESERVED"], rows)
