"""The verbs that change the platform on a person's behalf or show who did: approval
decisions (the approver is the token's subject), order cancellation, the audit trail and
the dead letters. Each returns an `Output`; `main` prints it."""

from __future__ import annotations

import argparse
from typing import Any

from sagactl.api_client import SagaApi
from sagactl.commands import UsageError, moment
from sagactl.parsing import Verbs, add_group, add_verb
from sagactl.render import Output, compact, when

AUDIT_ACTIONS = (
    "start",
    "raise_event",
    "suspend",
    "resume",
    "terminate",
    "rerun",
    "purge",
    "approve",
    "reject",
    "place_order",
    "cancel",
    "replay",
)


def approvals_approve(args: argparse.Namespace, api: SagaApi) -> Output:
    decided = api.approve(args.order_id, args.reason)
    return Output(decided, message=f"Order '{args.order_id}' approved")


def approvals_reject(args: argparse.Namespace, api: SagaApi) -> Output:
    decided = api.reject(args.order_id, args.reason)
    return Output(decided, message=f"Order '{args.order_id}' rejected")


def orders_cancel(args: argparse.Namespace, api: SagaApi) -> Output:
    accepted = api.cancel_order(args.order_id, args.reason)
    withdrawn = "; its pending approval was withdrawn" if accepted["approvalWithdrawn"] else ""
    return Output(
        accepted,
        message=f"Order '{args.order_id}' is being cancelled: saga {accepted['sagaId']} "
        f"compensates what it did{withdrawn}",
    )


def audit_list(args: argparse.Namespace, api: SagaApi) -> Output:
    filters: dict[str, Any] = {
        "actor": args.actor,
        "action": args.action,
        "target": args.target,
        "since": moment(args.since, "--since", past=True).isoformat() if args.since else None,
        "until": moment(args.until, "--until", past=True).isoformat() if args.until else None,
    }
    records = api.audit(filters, args.limit)
    width = None if args.output_format == "wide" else 40
    rows = [
        [
            record["id"],
            when(record["at"]),
            record["actor"],
            record["action"],
            record["target"],
            compact(record.get("reason"), width),
            *([compact(record.get("details") or None, None)] if width is None else []),
        ]
        for record in records
    ]
    headers = ["ID", "AT", "ACTOR", "ACTION", "TARGET", "REASON"]
    return Output(records, headers + (["DETAILS"] if width is None else []), rows)


def _letter_id(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise UsageError(f"dead letter id '{text}': expected a number as the listing shows it")
    return int(text)


def dead_letters_list(args: argparse.Namespace, api: SagaApi) -> Output:
    letters = api.dead_letters(args.limit)
    width = None if args.output_format == "wide" else 50
    rows = [
        [
            letter["id"],
            when(letter["receivedAt"]),
            letter["topic"],
            letter["eventType"],
            letter["source"],
            compact(letter["reason"], width),
            len(letter.get("replays") or []),
        ]
        for letter in letters
    ]
    headers = ["ID", "RECEIVED", "TOPIC", "TYPE", "SOURCE", "REASON", "REPLAYS"]
    return Output(letters, headers, rows)


def dead_letters_get(args: argparse.Namespace, api: SagaApi) -> Output:
    letter = api.dead_letter(_letter_id(args.id))
    lines = [
        f"ID:          {letter['id']}",
        f"Received:    {when(letter['receivedAt'])}",
        f"Topic:       {letter['topic']} (dead letters: {letter['deadLetterTopic']})",
        f"Type:        {letter['eventType']}  (event {letter['eventId']})",
        f"Source:      {letter['source']}"
        + (f" (app {letter['appId']})" if letter.get("appId") else ""),
        f"Reason:      {letter['reason']}",
        f"Replays:     {_replays(letter.get('replays') or [])}",
        f"Data:        {letter['data']}",
    ]
    return Output(letter, message="\n".join(lines))


def _replays(replays: list[dict[str, Any]]) -> str:
    return ", ".join(f"{when(r['at'])} by {r['by']}" for r in replays) or "none"


def dead_letters_replay(args: argparse.Namespace, api: SagaApi) -> Output:
    letter = api.replay_dead_letter(_letter_id(args.id))
    return Output(
        letter,
        message=f"Dead letter {letter['id']} published again on '{letter['topic']}' "
        f"as {letter['eventType']}",
    )


def add_cancel_verb(orders: Verbs) -> None:
    cancel = add_verb(
        orders,
        "cancel",
        orders_cancel,
        "cancel an order: its saga compensates what it did and ends cancelled",
    )
    cancel.add_argument("order_id", metavar="ORDER_ID")
    cancel.add_argument("--reason", help="why; recorded in the audit trail and the outcome")


def add_decision_verbs(approvals: Verbs) -> None:
    approve = add_verb(approvals, "approve", approvals_approve, "approve an order (as yourself)")
    approve.add_argument("order_id", metavar="ORDER_ID")
    approve.add_argument("--reason", help="a note, recorded with the decision")
    reject = add_verb(approvals, "reject", approvals_reject, "reject an order (as yourself)")
    reject.add_argument("order_id", metavar="ORDER_ID")
    reject.add_argument("--reason", required=True)


def add_audit_and_dead_letter_verbs(groups: Verbs) -> None:
    audit = add_verb(groups, "audit", audit_list, "who changed what, when and why (newest first)")
    audit.add_argument("--actor", help="only this subject's calls")
    audit.add_argument("--action", choices=AUDIT_ACTIONS, help="only this action")
    audit.add_argument("--target", help="only calls on this run, order or dead letter")
    audit.add_argument("--since", metavar="AGE", help="a Go duration back (24h) or a timestamp")
    audit.add_argument("--until", metavar="AGE", help="a Go duration back or a timestamp")
    audit.add_argument("--limit", type=int, default=100, help="records at most (default 100)")

    letters = add_group(groups, "dead-letters", "list, inspect and replay dead letters")
    listing = add_verb(letters, "list", dead_letters_list, "dead letters, newest first")
    listing.add_argument("--limit", type=int, default=100, help="at most (default 100)")
    get = add_verb(letters, "get", dead_letters_get, "one dead letter: reason, payload, replays")
    get.add_argument("id", metavar="ID")
    replay = add_verb(letters, "replay", dead_letters_replay, "publish it on its topic again")
    replay.add_argument("id", metavar="ID")
