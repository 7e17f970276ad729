"""`sagactl`: the command line, parsed with argparse, dispatched to `commands`.

The verbs mirror `dapr workflow` (same names, same flags) and talk to the management API
over HTTP, so they work against a local run and a cluster alike.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from services.cli import commands
from services.cli.api_client import ApiCallFailed, CannotConnect, SagaApi
from services.cli.exit_codes import ExitCode, exit_code_for
from services.cli.render import FORMATS, Output, render

DEFAULT_API_URL = "http://127.0.0.1:8080"

EPILOG = """\
exit codes: 0 ok, 1 server or unexpected error, 2 usage (or a request the API refused as
invalid), 3 not found, 4 conflict, 5 unauthorized, 6 cannot connect to the API.
"""

Handler = Callable[[argparse.Namespace, SagaApi], Output]


def _common_options(
    parser: argparse.ArgumentParser,
    *,
    top: bool,
    format_flags: tuple[str, ...] = ("-o", "--output"),
) -> None:
    """Connection and output flags, accepted before or after the verb.

    On the verbs their default is SUPPRESS, so a flag given before the verb is not reset.
    """

    def default(value: object) -> object:
        return value if top else argparse.SUPPRESS

    parser.add_argument(
        "--api-url",
        default=default(os.environ.get("SAGA_API_URL", DEFAULT_API_URL)),
        help=f"management API URL (env SAGA_API_URL; default {DEFAULT_API_URL})",
    )
    parser.add_argument(
        "--token",
        default=default(os.environ.get("SAGA_API_TOKEN")),
        help="bearer token (env SAGA_API_TOKEN)",
    )
    parser.add_argument(
        *format_flags,
        dest="output_format",
        choices=FORMATS,
        default=default("table"),
        help="output format (default table)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=default(30.0),
        help="seconds to wait for the API (default 30)",
    )


def _verb(
    group: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    handler: Handler,
    help_text: str,
    *,
    format_flags: tuple[str, ...] = ("-o", "--output"),
) -> argparse.ArgumentParser:
    parser = group.add_parser(name, help=help_text, description=help_text, epilog=EPILOG)
    parser.set_defaults(handler=handler)
    _common_options(parser, top=False, format_flags=format_flags)
    return parser


def _input_options(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--input", help="JSON input")
    source.add_argument("--input-file", help="file with the JSON input ('-' for stdin)")


def _workflow_verbs(group: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    verbs = group.add_parser(
        "workflow", help="manage workflow runs (as `dapr workflow`)", epilog=EPILOG
    ).add_subparsers(dest="verb", required=True, metavar="VERB")

    run = _verb(verbs, "run", commands.workflow_run, "start a workflow run")
    run.add_argument("name", help="order_saga, approval, order_batch or stock_monitor")
    _input_options(run)
    run.add_argument("--instance-id", help="instance ID (default: derived from the input)")

    listing = _verb(verbs, "list", commands.workflow_list, "list workflow runs")
    listing.add_argument("--filter-status", help="RUNNING, COMPLETED, FAILED, TERMINATED, ...")
    listing.add_argument("--filter-name", help="workflow name")
    listing.add_argument("--page-size", type=int, default=100, help="runs per API call")

    get = _verb(verbs, "get", commands.workflow_get, "show one workflow run")
    get.add_argument("instance_id", metavar="INSTANCE_ID")

    history = _verb(verbs, "history", commands.workflow_history, "show a run's history")
    history.add_argument("instance_id", metavar="INSTANCE_ID")
    history.add_argument(
        "--mermaid", action="store_true", help="print a Mermaid sequence diagram instead"
    )

    raise_event = _verb(
        verbs, "raise-event", commands.workflow_raise_event, "raise an external event on a run"
    )
    raise_event.add_argument("target", metavar="INSTANCE_ID/EVENT_NAME")
    _input_options(raise_event)

    for name, handler, help_text in (
        ("suspend", commands.workflow_suspend, "suspend a run"),
        ("resume", commands.workflow_resume, "resume a suspended run"),
    ):
        verb = _verb(verbs, name, handler, help_text)
        verb.add_argument("instance_id", metavar="INSTANCE_ID")
        verb.add_argument("--reason", help="recorded in the run's history")

    # As in `dapr workflow terminate`, --output is the run's output; the format is -o/--format.
    terminate = _verb(
        verbs,
        "terminate",
        commands.workflow_terminate,
        "terminate a run (and its child workflows)",
        format_flags=("-o", "--format"),
    )
    terminate.add_argument("instance_id", metavar="INSTANCE_ID")
    terminate.add_argument("--output", dest="run_output", help="JSON recorded as the run's output")

    purge = _verb(verbs, "purge", commands.workflow_purge, "purge finished runs")
    purge.add_argument("instance_ids", nargs="*", metavar="INSTANCE_ID")
    purge.add_argument(
        "--all-older-than",
        metavar="DURATION",
        help="purge every finished run created longer ago than this Go duration (720h, 1h30m)",
    )


def _order_verbs(group: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    verbs = group.add_parser("orders", help="place orders", epilog=EPILOG).add_subparsers(
        dest="verb", required=True, metavar="VERB"
    )
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


def _approval_verbs(group: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    verbs = group.add_parser(
        "approvals", help="decide order approvals", epilog=EPILOG
    ).add_subparsers(dest="verb", required=True, metavar="VERB")
    _verb(verbs, "list", commands.approvals_list, "list pending approvals")
    approve = _verb(verbs, "approve", commands.approvals_approve, "approve an order")
    approve.add_argument("order_id", metavar="ORDER_ID")
    approve.add_argument("--approver", required=True)
    reject = _verb(verbs, "reject", commands.approvals_reject, "reject an order")
    reject.add_argument("order_id", metavar="ORDER_ID")
    reject.add_argument("--approver", required=True)
    reject.add_argument("--reason", required=True)


def _inventory_verbs(group: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    verbs = group.add_parser("inventory", help="read stock", epilog=EPILOG).add_subparsers(
        dest="verb", required=True, metavar="VERB"
    )
    stock = _verb(verbs, "stock", commands.inventory_stock, "show stock levels")
    stock.add_argument("--sku", action="append", help="a SKU; repeat for several (default all)")


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
    return parser


def _fail(code: ExitCode, message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return int(code)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 on a usage error
    handler: Handler = args.handler
    try:
        with SagaApi(args.api_url, args.token, args.timeout) as api:
            output = handler(args, api)
    except commands.UsageError as error:
        parser.print_usage(sys.stderr)
        return _fail(ExitCode.USAGE, str(error))
    except CannotConnect as error:
        return _fail(ExitCode.CANNOT_CONNECT, str(error))
    except ApiCallFailed as error:
        return _fail(exit_code_for(error.status), f"{error.code}: {error.message}")
    print(render(output, args.output_format))
    return int(ExitCode.OK)
