"""`sagactl`: the command line, parsed with argparse, dispatched to `commands`.

`sagactl workflow` takes the verbs and flags of `dapr workflow` (Dapr CLI 1.16+) with
dapr's meaning; the project's own additions use names dapr does not. Every verb talks to
the management API over HTTP, so it works against a local run and a cluster alike.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeAlias

from sagactl import commands, completion
from sagactl.api_client import ApiCallFailed, CannotConnect, SagaApi
from sagactl.cluster import port_forward
from sagactl.exit_codes import ExitCode, exit_code_for
from sagactl.render import FORMAT_ALIASES, FORMATS, NO_RESOURCES, Output, render

DEFAULT_API_URL = "http://127.0.0.1:8080"
DEFAULT_NAMESPACE = "default"  # dapr's
# The Dapr app id of the orchestrator, whose workflows the management API serves (`-a`
# names the app owning the workflows, as for dapr). sagactl imports nothing from services/.
WORKFLOW_APP_ID = "orchestrator"
_CLEAR_SCREEN = "\033[H\033[2J"

EPILOG = """\
exit codes: 0 ok, 1 server or unexpected error, 2 usage (or a request the API refused as
invalid), 3 not found, 4 conflict, 5 unauthorized, 6 cannot connect to the API.
"""

Handler = Callable[[argparse.Namespace, SagaApi], Output]
Verbs: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
FORMAT_FLAGS = ("-o", "--output", "--format")


def _common_options(
    parser: argparse.ArgumentParser,
    *,
    top: bool,
    format_flags: tuple[str, ...] = FORMAT_FLAGS,
    formats: tuple[str, ...] = FORMATS,
) -> None:
    """Connection and output flags, accepted before or after the group and the verb.

    Below the top their default is SUPPRESS, so a flag given earlier is not reset.
    """

    def default(value: object) -> object:
        return value if top else argparse.SUPPRESS

    parser.add_argument(
        "--api-url",
        default=default(None),
        help=f"management API URL (env SAGA_API_URL; default {DEFAULT_API_URL})",
    )
    parser.add_argument(
        "--token",
        default=default(os.environ.get("SAGA_API_TOKEN")),
        help="bearer token (env SAGA_API_TOKEN)",
    )
    parser.add_argument(
        "-k",
        "--kubernetes",
        action="store_true",
        default=default(False),
        help="reach the API in Kubernetes (as dapr -k): kubectl port-forward to the "
        "orchestrator Service, with your kubeconfig",
    )
    parser.add_argument(
        "-n",
        "--namespace",
        default=default(None),
        help=f"with -k, the platform's namespace (default {DEFAULT_NAMESPACE})",
    )
    parser.add_argument(
        *format_flags,
        dest="output_format",
        type=lambda name: FORMAT_ALIASES.get(name, name),
        choices=formats,
        default=default("short"),
        metavar="FORMAT",
        help=f"output format: {', '.join(formats)} (default short; wide: more columns, "
        "cells not cut)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=default(30.0),
        help="seconds to wait for the API (default 30)",
    )


def _app_id_option(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument(
        "-a",
        "--app-id",
        default=default,
        help=f"the app owning the workflows: only '{WORKFLOW_APP_ID}', whose management "
        "API sagactl talks to",
    )


def _verb(
    group: Verbs,
    name: str,
    handler: Handler,
    help_text: str,
    *,
    aliases: Sequence[str] = (),
    format_flags: tuple[str, ...] = FORMAT_FLAGS,
    formats: tuple[str, ...] = FORMATS,
) -> argparse.ArgumentParser:
    parser = group.add_parser(
        name, aliases=list(aliases), help=help_text, description=help_text, epilog=EPILOG
    )
    parser.set_defaults(handler=handler)
    _common_options(parser, top=False, format_flags=format_flags, formats=formats)
    return parser


def _group(
    groups: Verbs,
    name: str,
    help_text: str,
    *,
    aliases: Sequence[str] = (),
    app_id: bool = False,
) -> Verbs:
    parser = groups.add_parser(name, aliases=list(aliases), help=help_text, epilog=EPILOG)
    _common_options(parser, top=False)
    if app_id:
        _app_id_option(parser, None)
    return parser.add_subparsers(dest="verb", required=True, metavar="VERB")


def _input_options(parser: argparse.ArgumentParser, help_text: str = "JSON input") -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("-x", "--input", help=help_text)
    source.add_argument("--input-file", help="file with that JSON ('-' for stdin)")


def _watch_options(parser: argparse.ArgumentParser) -> None:
    # Long names only: in `dapr workflow list`, -w is --filter-name.
    parser.add_argument(
        "--watch", action="store_true", help="list again every --watch-interval until Ctrl-C"
    )
    parser.add_argument(
        "--watch-interval",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="seconds between two listings with --watch (default 2)",
    )


def _state_store_options(parser: argparse.ArgumentParser) -> None:
    """dapr's flags for reading the actor state store directly: refused with a reason."""
    parser.add_argument(
        "-c", "--connection-string", help="dapr's; refused: sagactl reads through the API"
    )
    parser.add_argument("-t", "--table-name", help="dapr's; refused: sagactl reads through the API")


def _workflow_verbs(groups: Verbs) -> None:
    verbs = _group(
        groups,
        "workflow",
        "manage workflow runs (the verbs and flags of `dapr workflow`)",
        aliases=["wf"],
        app_id=True,
    )

    def verb(
        name: str, handler: Handler, help_text: str, **options: Any
    ) -> argparse.ArgumentParser:
        parser = _verb(verbs, name, handler, help_text, **options)
        _app_id_option(parser, argparse.SUPPRESS)
        return parser

    run = verb("run", commands.workflow_run, "start a workflow run")
    run.add_argument("name", help="order_saga, approval, order_batch or stock_monitor")
    _input_options(run)
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
    _watch_options(listing)
    _state_store_options(listing)

    get = verb("get", commands.workflow_get, "show one workflow run")
    get.add_argument("instance_id", metavar="INSTANCE_ID")

    history = verb("history", commands.workflow_history, "show a run's history")
    history.add_argument("instance_id", metavar="INSTANCE_ID")
    history.add_argument(
        "--mermaid", action="store_true", help="print a Mermaid sequence diagram instead"
    )

    raise_event = verb(
        "raise-event", commands.workflow_raise_event, "raise an external event on a run"
    )
    raise_event.add_argument("target", metavar="INSTANCE_ID/EVENT_NAME")
    _input_options(raise_event, "the event's JSON payload")

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
    _input_options(rerun, "JSON replacing the input of that event (default: kept)")

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
    verbs = _group(groups, "orders", "place orders")
    place = _verb(verbs, "place", commands.orders_place, "publish an order.placed event")
    place.add_argument("--file", help="the order as JSON ('-' for stdin)")
    place.add_argument("--order-id", help="default: a generated ord-... id")
    place.add_argument("--customer", help="customer id")
    place.add_argument(
        "--sku",
        action="append",
        metavar="SKU:QTY:PRICE_CENTS",
        help="an order line; repeat for several",
    )
    place.add_argument("--card", help="card number (12-19 digits)")
    place.add_argument("--currency", default="USD")
    place.add_argument("--line1", default="1 Main Street", help="shipping address line")
    place.add_argument("--city", default="Springfield")
    place.add_argument("--postal-code", default="00000")
    place.add_argument("--country", default="US", help="ISO 3166 alpha-2 code")


def _approval_verbs(groups: Verbs) -> None:
    verbs = _group(groups, "approvals", "decide order approvals")
    listing = _verb(verbs, "list", commands.approvals_list, "list pending approvals")
    _watch_options(listing)
    approve = _verb(verbs, "approve", commands.approvals_approve, "approve an order")
    approve.add_argument("order_id", metavar="ORDER_ID")
    approve.add_argument("--approver", required=True)
    reject = _verb(verbs, "reject", commands.approvals_reject, "reject an order")
    reject.add_argument("order_id", metavar="ORDER_ID")
    reject.add_argument("--approver", required=True)
    reject.add_argument("--reason", required=True)


def _inventory_verbs(groups: Verbs) -> None:
    verbs = _group(groups, "inventory", "read stock")
    stock = _verb(verbs, "stock", commands.inventory_stock, "show stock levels")
    stock.add_argument("--sku", action="append", help="a SKU; repeat for several (default all)")
    _watch_options(stock)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sagactl",
        description="Manage the saga platform through its management API.",
        epilog=EPILOG,
    )
    _common_options(parser, top=True)
    groups = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")
    _workflow_verbs(groups)
    _order_verbs(groups)
    _approval_verbs(groups)
    _inventory_verbs(groups)
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
    if not args.kubernetes:
        if args.namespace is not None:
            raise commands.UsageError("-n/--namespace applies with -k/--kubernetes only")
        url = args.api_url or os.environ.get("SAGA_API_URL") or DEFAULT_API_URL
        with SagaApi(url, args.token, args.timeout) as api:
            yield api
        return
    if args.api_url:
        raise commands.UsageError("give --api-url or -k/--kubernetes, not both")
    namespace = args.namespace or DEFAULT_NAMESPACE
    with (
        port_forward(namespace, args.timeout) as url,
        SagaApi(url, args.token, args.timeout) as api,
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
    watching: bool = getattr(args, "watch", False)
    clear = watching and sys.stdout.isatty()
    try:
        while True:
            output = handler(args, api)
            if clear:
                print(_CLEAR_SCREEN, end="")
            _emit(output, args.output_format)
            if not watching:
                return
            time.sleep(args.watch_interval)
    except KeyboardInterrupt:
        if not watching:
            raise


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
    except commands.UsageError as error:
        parser.print_usage(sys.stderr)
        return _fail(ExitCode.USAGE, str(error))
    except CannotConnect as error:
        return _fail(ExitCode.CANNOT_CONNECT, str(error))
    except ApiCallFailed as error:
        return _fail(exit_code_for(error.status), f"{error.code}: {error.message}")
    return int(ExitCode.OK)
