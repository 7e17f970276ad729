"""The audit trail: who changed what, when and why, for every state-changing call.

Each accepted call appends one record (`AuditRecord`) to a `StateLog` in the platform's state
store (`audit:<number>`), through the sidecar, so it is as durable as the workflows and works
on the embedded runtime and on daprd alike. A record is written after the call succeeded;
a record that cannot be written fails the request (503 `AUDIT_UNAVAILABLE`), so a change
never goes unrecorded without its caller hearing of it. The API never changes or deletes a
record.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from enum import StrEnum
from http import HTTPStatus
from typing import Any

from dapr.clients import DaprClient
from pydantic import Field

from services.orchestrator.api.errors import ApiError, ErrorCode
from services.orchestrator.api.identity import Identity
from services.orchestrator.api.schemas import ApiModel
from services.orchestrator.state_log import StateLog

log = logging.getLogger("services.orchestrator.audit")

AUDIT_PREFIX = "audit"
# Records read per page of `GET /v1/audit`, at most, while looking for matches.
SCAN_LIMIT = 2000


class AuditAction(StrEnum):
    START = "start"
    RAISE_EVENT = "raise_event"
    SUSPEND = "suspend"
    RESUME = "resume"
    TERMINATE = "terminate"
    RERUN = "rerun"
    PURGE = "purge"
    APPROVE = "approve"
    REJECT = "reject"
    PLACE_ORDER = "place_order"
    CANCEL = "cancel"
    REPLAY = "replay"


class AuditRecord(ApiModel):
    id: int = Field(description="The record's number; newer records have larger numbers.")
    at: datetime
    actor: str = Field(description="The token's subject.")
    actor_name: str | None = None
    roles: list[str]
    action: AuditAction
    target: str = Field(description="A run's instance id, an order id or a dead letter's id.")
    reason: str | None = Field(default=None, description="Why, as the caller said it.")
    details: dict[str, Any] = Field(default_factory=dict)


class AuditPage(ApiModel):
    items: list[AuditRecord]
    continuation_token: str | None = Field(
        default=None, description="Pass back to get older records; null when none are left."
    )


class AuditQuery(ApiModel):
    actor: str | None = None
    action: AuditAction | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def matches(self, record: AuditRecord) -> bool:
        return (
            (self.actor is None or record.actor == self.actor)
            and (self.action is None or record.action == self.action)
            and (self.target is None or record.target == self.target)
            and (self.since is None or record.at >= self.since)
            and (self.until is None or record.at < self.until)
        )


class AuditTrail:
    def __init__(self, dapr: DaprClient) -> None:
        self.log = StateLog(dapr, AUDIT_PREFIX)

    def record(
        self,
        who: Identity,
        action: AuditAction,
        target: str,
        *,
        reason: str | None = None,
        **details: Any,
    ) -> AuditRecord:
        """Appends one record of a call that succeeded."""
        record = AuditRecord(
            id=0,
            at=datetime.now(UTC),
            actor=who.subject,
            actor_name=who.name,
            roles=sorted(who.roles),
            action=action,
            target=target,
            reason=reason,
            details={k: v for k, v in details.items() if v is not None},
        )
        try:
            number = self.log.append(record.model_dump_json(by_alias=True, exclude={"id"}))
        except Exception as error:  # gRPC errors, state conflicts: the caller must hear of it
            log.exception("audit record not written", extra={"action": str(action)})
            raise ApiError(
                HTTPStatus.SERVICE_UNAVAILABLE,
                ErrorCode.AUDIT_UNAVAILABLE,
                f"the {action} of '{target}' was made, but its audit record could not be "
                f"written: {error}",
            ) from error
        log.info(
            "audit",
            extra={"actor": who.subject, "action": str(action), "target": target, "id": number},
        )
        return record.model_copy(update={"id": number})

    def page(self, query: AuditQuery, page_size: int, token: int | None) -> AuditPage:
        """Matching records, newest first, from below `token` (default: the newest)."""
        below = token if token is not None else self.log.last() + 1
        items: list[AuditRecord] = []
        scanned = 0
        while below > 1 and len(items) < page_size and scanned < SCAN_LIMIT:
            count = min(200, SCAN_LIMIT - scanned)
            scanned += count
            next_below = max(1, below - count)
            for entry in self.log.newest_first(below, count):
                record = AuditRecord.model_validate({**json.loads(entry.data), "id": entry.number})
                if query.matches(record):
                    items.append(record)
                if len(items) == page_size:
                    next_below = entry.number
                    break
            below = next_below
        return AuditPage(items=items, continuation_token=str(below) if below > 1 else None)
