"""`sagactl`: the command line, parsed with argparse, dispatched to `commands`.

`sagactl workflow` takes the verbs and flags of `dapr workflow` (Dapr CLI 1.16+) with
dapr's meaning; the project's own additions use names dapr does not. Every verb talks to
the management API over HTTP, so it works against a local run and a cluster alike.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import Any

from sagactl import card_vault, commands, completion, operations
from sagactl.api_client import ApiCallFailed, CannotConnect, SagaApi
from sagactl.cluster import port_forward
from sagactl.config import ConfigError, load_config
from sagactl.exit_codes import ExitCode, exit_code_for
from sagactl.parsing import (
    DEFAULT_API_URL,
    DEFAULT_NAMESPACE,
    EPILOG,
    WORKFLOW_APP_ID,
    Handler,
    Verbs,
    add_group,
    add_verb,
    app_id_option,
    common_options,
    input_options,
    watch_options,
)
from sagactl.render import FORMATS, NO_RESOURCES, Output, render

_CLEAR_SCREEN = "\033[H\033[2J"
# How soon a watch notices Ctrl-C while it waits for the next listing.
_WATCH_TICK_SECONDS = 0.1


def _state_store_options(parser: argparse.ArgumentParser) -> None:
    """dapr's flags for reading the actor state store directly: refused with a reason."""
    parser.add_argument(
        "-c", "--connection-string", help="dapr's; refused: sagactl reads through the API"
    )
    parser.add_argument("-t", "--table-name", help="dapr's; refused: sagactl reads through the API")


def _workflow_verbs(groups: Verbs) -> None:
    verbs = add_group(
        groups,
        "workflow",
        "manage workflow runs (the verbs and flags of `dapr workflow`)",
        aliases=["wf"],
        app_id=True,
    )

    def verb(
        name: str, handler: Handler, help_text: str, **options: Any
    ) -> argparse.ArgumentParser:
        parser = add_verb(verbs, name, handler, help_text, **options)
        app_id_option(parser, argparse.SUPPRESS)
        return parser

    run = verb("run", commands.workflow_run, "start a workflow run")
    run.add_argument("name", help="order_saga, approval, order_batch or stock_monitor")
    input_options(run)
    run.add_argument("-i", "--instance-id", help="instance ID (default: derived from the input)")
    run.add_argument(
        "-s",
        "--start-time",
        metavar="TIME",
        help="start later: a Go duration from now (30s, 1h) or a timestamp "
        "(2025-01-02T15:04:05Z); the run is PENDING until then",
    )

    listing = verb(
        "list",
        commands.workflow_list,
        "list workflow runs",
        aliases=["ls"],
        formats=(*FORMATS, "ids"),
    )
    listing.add_argument(
        "-s",
        "--filter-status",
        metavar="STATUS",
        help="RUNNING, COMPLETED, FAILED, TERMINATED, PENDING, SUSPENDED or STALLED; "
        "several comma-separated",
    )
    listing.add_argument("-w", "--filter-name", metavar="NAME", help="workflow name")
    listing.add_argument(
        "-m",
        "--filter-max-age",
        metavar="AGE",
        help="only runs created within a Go duration (1h30m) or since a timestamp",
    )
    listing.add_argument("--page-size", type=int, default=100, help="runs per API call")
    watch_options(listing)
    _state_store_options(listing)

    get = verb("get", commands.workflow_get, "show one workflow run")
    get.add_argument("instance_id", metavar="INSTANCE_ID")

    history = verb("history", commands.workflow_history, "show a run's history")
    history.add_argument("instance_id", metavar="INSTANCE_ID")
    history.add_argument(
        "--mermaid", action="store_true", help="print a Mermaid sequence diagram instead"
    )

    trace = verb(
        "trace",
        commands.workflow_trace,
        "draw a saga's trace as a waterfall (spans the platform keeps locally)",
    )
    trace.add_argument("instance_id", metavar="INSTANCE_ID")

    raise_event = verb(
        "raise-event", commands.workflow_raise_event, "raise an external event on a run"
    )
    raise_event.add_argument("target", metavar="INSTANCE_ID/EVENT_NAME")
    input_options(raise_event, "the event's JSON payload")

    for name, handler, help_text in (
        ("suspend", commands.workflow_suspend, "suspend a run"),
        ("resume", commands.workflow_resume, "resume a suspended run"),
    ):
        suspend_or_resume = verb(name, handler, help_text)
        suspend_or_resume.add_argument("instance_id", metavar="INSTANCE_ID")
        suspend_or_resume.add_argument("-r", "--reason", help="recorded in the run's history")

    # As in `dapr workflow terminate`, -o/--output is the run's output; the format is --format.
    terminate = verb(
        "terminate",
        commands.workflow_terminate,
        "terminate a run (and its child workflows)",
        format_flags=("--format",),
    )
    terminate.add_argument("instance_id", metavar="INSTANCE_ID")
    terminate.add_argument(
        "-o", "--output", dest="run_output", metavar="JSON", help="recorded as the run's output"
    )

    rerun = verb(
        "rerun",
        commands.workflow_rerun,
        "start a new run that replays a finished one up to an event, then goes on",
    )
    rerun.add_argument("instance_id", metavar="INSTANCE_ID")
    rerun.add_argument(
        "-e",
        "--event-id",
        type=int,
        help="event ID of the scheduled activity to rerun from, as `history` shows it "
        "(default: from the beginning)",
    )
    rerun.add_argument("--new-instance-id", help="the new run's instance ID (default: random)")
    input_options(rerun, "JSON replacing the input of that event (default: kept)")

    purge = verb("purge", commands.workflow_purge, "purge finished runs")
    purge.add_argument("instance_ids", nargs="*", metavar="INSTANCE_ID")
    bulk = purge.add_mutually_exclusive_group()
    bulk.add_argument("--all", action="store_true", help="purge every terminal run")
    bulk.add_argument(
        "--all-older-than",
        metavar="AGE",
        help="purge every terminal run created longer ago than a Go duration (720h, 1h30m) "
        "or before a timestamp",
    )
    purge.add_argument(
        "--all-filter-status",
        metavar="STATUS",
        help="with --all-older-than: only runs in this status (one not terminal needs --force)",
    )
    purge.add_argument(
        "--force",
        action="store_true",
        help="purge whatever the run's state, outside the workflow state machine: only "
        "for runs no worker is processing",
    )
    purge.add_argument(
        "--scheduler-namespace", help="dapr's; refused: sagactl never reaches the scheduler"
    )
    _state_store_options(purge)


def _order_verbs(groups: Verbs) -> None:
    verbs = add_group(groups, "orders", "place and cancel orders")
    operations.add_cancel_verb(verbs)
    place = add_verb(verbs, "place", commands.orders_place, "publish an order.placed event")
    place.add_argument(
        "--file",
        help="the order as JSON ('-' for stdin); a cardNumber in it is tokenized first",
    )
    place.add_argument("--order-id", help="default: a generated ord-... id")
    place.add_argument("--customer", help="customer id")
    place.add_argument(
        "--sku",
        action="append",
        metavar="SKU:QTY:PRICE_CENTS",
        help="an order line; repeat for several",
    )
    paying = place.add_mutually_exclusive_group()
    paying.add_argument(
        "--card",
        help="card number (12-19 digits): tokenized by the payment service's card vault, "
        "only the token reaches the API",
    )
    paying.add_argument("--payment-token", help="a token of the card vault (tok_...)")
    place.add_argument(
        "--vault-url",
        help=f"the card vault (env SAGA_VAULT_URL; default {card_vault.DEFAULT_VAULT_URL})",
    )
    place.add_argument("--currency", default="USD")
    place.add_argument("--line1", default="1 Main Street", help="shipping address line")
    place.add_argument("--city", default="Springfield")
    place.add_argument("--postal-code", default="00000")
    place.add_argument("--country", default="US", help="ISO 3166 alpha-2 code")


def _approval_verbs(groups: Verbs) -> None:
    verbs = add_group(groups, "approvals", "decide order approvals")
    listing = add_verb(verbs, "list", commands.approvals_list, "list pending approvals")
    watch_options(listing)
    operations.add_decision_verbs(verbs)


def _inventory_verbs(groups: Verbs) -> None:
    verbs = add_group(groups, "inventory", "read stock")
    stock = add_verb(verbs, "stock", commands.inventory_stock, "show stock levels")
    stock.add_argument("--sku", action="append", help="a SKU; repeat for several (default all)")
    watch_options(stock)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sagactl",
        description="Manage the saga platform through its management API.",
        epilog=EPILOG,
    )
    common_options(parser, top=True)
    groups = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")
    _workflow_verbs(groups)
    _order_verbs(groups)
    _approval_verbs(groups)
    _inventory_verbs(groups)
    operations.add_audit_and_dead_letter_verbs(groups)
    shell = groups.add_parser(
        "completion",
        help="print a shell completion script",
        description="Print a completion script: source <(sagactl completion bash), the same "
        "for zsh, or sagactl completion fish | source.",
    )
    shell.add_argument("shell", choices=completion.SHELLS)
    return parser


@contextmanager
def _api(args: argparse.Namespace) -> Iterator[SagaApi]:
    """The API client, at --api-url or, with -k, through a port-forward into the cluster."""
    app_id = getattr(args, "app_id", None)
    if app_id not in (None, WORKFLOW_APP_ID):
        raise commands.UsageError(
            f"app ID '{app_id}': sagactl manages the workflows of '{WORKFLOW_APP_ID}' only "
            "(its management API serves them)"
        )
    config = load_config()
    if not args.kubernetes:
        if args.namespace is not None:
            raise commands.UsageError("-n/--namespace applies with -k/--kubernetes only")
        url = args.api_url or os.environ.get("SAGA_API_URL") or config.api_url or DEFAULT_API_URL
        with SagaApi(url, args.token or config.token, args.timeout) as api:
            yield api
        return
    if args.api_url:
        raise commands.UsageError("give --api-url or -k/--kubernetes, not both")
    namespace = args.namespace or DEFAULT_NAMESPACE
    with (
        port_forward(namespace, args.timeout) as url,
        SagaApi(url, args.token or config.token, args.timeout) as api,
    ):
        yield api


def _emit(output: Output, output_format: str) -> None:
    text = render(output, output_format)
    if text is None:
        print(NO_RESOURCES, file=sys.stderr, flush=True)
    else:
        print(text, flush=True)


def _serve(args: argparse.Namespace, api: SagaApi) -> None:
    """Runs the verb once or, with --watch, again and again until Ctrl-C."""
    handler: Handler = args.handler
    if not getattr(args, "watch", False):
        _emit(handler(args, api), args.output_format)
        return
    clear = sys.stdout.isatty()
    with _interrupt_flag() as interrupted:
        while not interrupted():
            output = handler(args, api)
            if clear:
                print(_CLEAR_SCREEN, end="")
            _emit(output, args.output_format)
            ends = time.monotonic() + args.watch_interval
            while not interrupted() and time.monotonic() < ends:
                time.sleep(min(_WATCH_TICK_SECONDS, args.watch_interval))


@contextmanager
def _interrupt_flag() -> Iterator[Callable[[], bool]]:
    """While inside, a first Ctrl-C only raises a flag, so that a watch ends between two
    listings: as a KeyboardInterrupt in the middle of an HTTP call it could leave the
    client's connection pool locked and the exit hanging. A second Ctrl-C interrupts."""
    caught: list[int] = []

    def on_interrupt(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield lambda: bool(caught)
    finally:
        signal.signal(signal.SIGINT, previous)


def _fail(code: ExitCode, message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return int(code)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 on a usage error
    if args.group == "completion":
        print(completion.script(parser, args.shell), end="")
        return int(ExitCode.OK)
    try:
        with _api(args) as api:
            _serve(args, api)
    except ConfigError as error:
        return _fail(ExitCode.USAGE, str(error))
    except commands.UsageError as error:
        parser.print_usage(sys.stderr)
        return _fail(ExitCode.USAGE, str(error))
    except CannotConnect as error:
        return _fail(ExitCode.CANNOT_CONNECT, str(error))
    except ApiCallFailed as error:
        return _fail(exit_code_for(error.status), f"{error.code}: {error.message}")
    return int(ExitCode.OK)
