"""The parser's building blocks shared by every command group: the connection and output
flags (accepted before or after the group and the verb), a group, a verb, input and
`--watch` flags."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from typing import TypeAlias

from sagactl.api_client import SagaApi
from sagactl.render import FORMAT_ALIASES, FORMATS, Output

DEFAULT_API_URL = "http://127.0.0.1:8080"
DEFAULT_NAMESPACE = "default"  # dapr's
# The Dapr app id of the orchestrator, whose workflows the management API serves (`-a`
# names the app owning the workflows, as for dapr). sagactl imports nothing from services/.
WORKFLOW_APP_ID = "orchestrator"

EPILOG = """\
exit codes: 0 ok, 1 server or unexpected error, 2 usage (or a request the API refused as
invalid), 3 not found, 4 conflict, 5 unauthorized, 6 cannot connect to the API.
"""

Handler = Callable[[argparse.Namespace, SagaApi], Output]
Verbs: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
FORMAT_FLAGS = ("-o", "--output", "--format")


def common_options(
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
        help=f"management API URL (env SAGA_API_URL, else the config file's apiUrl; "
        f"default {DEFAULT_API_URL})",
    )
    parser.add_argument(
        "--token",
        default=default(os.environ.get("SAGA_API_TOKEN")),
        help="bearer token, a JWT (env SAGA_API_TOKEN, else the config file's token)",
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


def app_id_option(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument(
        "-a",
        "--app-id",
        default=default,
        help=f"the app owning the workflows: only '{WORKFLOW_APP_ID}', whose management "
        "API sagactl talks to",
    )


def add_verb(
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
    common_options(parser, top=False, format_flags=format_flags, formats=formats)
    return parser


def add_group(
    groups: Verbs,
    name: str,
    help_text: str,
    *,
    aliases: Sequence[str] = (),
    app_id: bool = False,
) -> Verbs:
    parser = groups.add_parser(name, aliases=list(aliases), help=help_text, epilog=EPILOG)
    common_options(parser, top=False)
    if app_id:
        app_id_option(parser, None)
    return parser.add_subparsers(dest="verb", required=True, metavar="VERB")


def input_options(parser: argparse.ArgumentParser, help_text: str = "JSON input") -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("-x", "--input", help=help_text)
    source.add_argument("--input-file", help="file with that JSON ('-' for stdin)")


def watch_options(parser: argparse.ArgumentParser) -> None:
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
