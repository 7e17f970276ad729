"""Exit codes scripts can branch on (documented in docs/cli.md)."""

from __future__ import annotations

from enum import IntEnum
from http import HTTPStatus


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1  # the server failed, or something unexpected happened
    USAGE = 2  # bad flags or arguments, or a request the API refused as invalid
    NOT_FOUND = 3
    CONFLICT = 4  # e.g. the run already exists, is still running, is no longer pending
    UNAUTHORIZED = 5
    CANNOT_CONNECT = 6


def exit_code_for(status: int) -> ExitCode:
    """The exit code for an HTTP error status of the management API."""
    match status:
        case HTTPStatus.BAD_REQUEST | HTTPStatus.UNPROCESSABLE_ENTITY:
            return ExitCode.USAGE
        case HTTPStatus.UNAUTHORIZED | HTTPStatus.FORBIDDEN:
            return ExitCode.UNAUTHORIZED
        case HTTPStatus.NOT_FOUND:
            return ExitCode.NOT_FOUND
        case HTTPStatus.CONFLICT:
            return ExitCode.CONFLICT
        case _:
            return ExitCode.ERROR
