"""The audit trail (who changed what, when, why) and the dead-letter inbox (list, inspect,
replay): both for operators."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from services.orchestrator.api.audit import AuditAction, AuditPage, AuditQuery
from services.orchestrator.api.dependencies import AuditDep, Operator
from services.orchestrator.api.errors import (
    ErrorCode,
    error_responses,
    not_found,
    validation_failed,
)
from services.orchestrator.api.schemas import ApiModel, as_utc
from services.orchestrator.api.validation import LOG_TOKEN_PATTERN, Rfc3339
from services.orchestrator.dead_letters import DeadLetterEntry, DeadLetterInbox

router = APIRouter(prefix="/v1")

PageSize = Annotated[int, Query(alias="pageSize", ge=1, le=500, description="At most 500.")]
Token = Annotated[
    str | None,
    Query(
        alias="continuationToken",
        pattern=LOG_TOKEN_PATTERN,
        description="From the previous page; opaque.",
    ),
]


class DeadLetterPage(ApiModel):
    items: list[DeadLetterEntry]
    continuation_token: str | None = None


def _token(text: str | None) -> int | None:
    if text is None:
        return None
    if not text.isdigit() or int(text) < 1:
        raise validation_failed("continuationToken is not one this API gave")
    return int(text)


@router.get(
    "/audit",
    tags=["audit"],
    summary="Audit records, newest first",
    description="Every state-changing call: who (the token's subject), when, what, on which "
    "target, and why. Filters apply within a scan of at most 2000 records per page, so a "
    "filtered page can be short while `continuationToken` says more remain.",
    responses=error_responses(422),
)
def list_audit_records(
    audit: AuditDep,
    caller: Operator,
    actor: Annotated[str | None, Query(description="Only this subject's calls.")] = None,
    action: Annotated[AuditAction | None, Query(description="Only this action.")] = None,
    target: Annotated[
        str | None, Query(description="Only calls on this run, order or dead letter.")
    ] = None,
    since: Annotated[Rfc3339 | None, Query(description="At or after (RFC 3339).")] = None,
    until: Annotated[Rfc3339 | None, Query(description="Before (RFC 3339).")] = None,
    page_size: PageSize = 50,
    continuation_token: Token = None,
) -> AuditPage:
    query = AuditQuery(
        actor=actor,
        action=action,
        target=target,
        since=as_utc(since) if since else None,
        until=as_utc(until) if until else None,
    )
    return audit.page(query, page_size, _token(continuation_token))


def _inbox(request: Request) -> DeadLetterInbox:
    inbox: DeadLetterInbox = request.app.state.dead_letters
    return inbox


DeadLetterId = Annotated[int, Path(alias="id", ge=1, le=10**12, description="The id.")]


@router.get(
    "/dead-letters",
    tags=["dead-letters"],
    summary="Dead letters, newest first, with the reason each was refused",
    responses=error_responses(422),
)
def list_dead_letters(
    request: Request,
    caller: Operator,
    page_size: PageSize = 50,
    continuation_token: Token = None,
) -> DeadLetterPage:
    items, below = _inbox(request).newest_first(_token(continuation_token), page_size)
    return DeadLetterPage(items=items, continuation_token=str(below) if below > 1 else None)


@router.get(
    "/dead-letters/{id}",
    tags=["dead-letters"],
    summary="One dead letter: its reason, origin, payload and replays",
    responses=error_responses(404, 422),
)
def get_dead_letter(number: DeadLetterId, request: Request, caller: Operator) -> DeadLetterEntry:
    entry = _inbox(request).get(number)
    if entry is None:
        raise not_found(ErrorCode.DEAD_LETTER_NOT_FOUND, f"there is no dead letter {number}")
    return entry


@router.post(
    "/dead-letters/{id}/replay",
    status_code=HTTPStatus.ACCEPTED,
    tags=["dead-letters"],
    summary="Publish a dead letter's payload on its topic again",
    description="The original payload and event type go to the original topic, as if "
    "published anew; its consumers are idempotent by `commandId`. Replaying a message that "
    "fails its contract again sends it to the dead-letter topic again (a new dead letter).",
    responses=error_responses(404, 422),
)
def replay_dead_letter(
    number: DeadLetterId,
    request: Request,
    caller: Operator,
    audit: AuditDep,
) -> DeadLetterEntry:
    entry = _inbox(request).replay(number, caller.subject)
    if entry is None:
        raise not_found(ErrorCode.DEAD_LETTER_NOT_FOUND, f"there is no dead letter {number}")
    audit.record(caller, AuditAction.REPLAY, str(number), topic=entry.topic)
    return entry
