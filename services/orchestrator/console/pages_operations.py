"""The approvals inbox (pending approvals with amount, customer and time left; approve or
reject with a reason; recent decisions with who, when and why), stock levels, and the
dead letters with their reasons and a replay button. Every read and every change is a call
to the API as the person logged in."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.orchestrator.console.api_calls import ApiAnswer, call_api
from services.orchestrator.console.forms import form_fields
from services.orchestrator.console.rendering import templates
from services.orchestrator.console.session import Actor, Viewer

router = APIRouter()

DECISIONS_SHOWN = 20


async def _approvals_context(request: Request) -> dict[str, Any]:
    pending = await call_api(request, "GET", "/v1/approvals")
    decisions: list[dict[str, Any]] = []
    decisions_refusal: ApiAnswer | None = None
    for action in ("approve", "reject"):
        answer = await call_api(
            request, "GET", "/v1/audit", params={"action": action, "pageSize": DECISIONS_SHOWN}
        )
        if answer.ok:
            decisions += answer.body.get("items", [])
        else:
            decisions_refusal = answer
    decisions.sort(key=lambda record: record.get("id", 0), reverse=True)
    return {
        "pending": pending.body.get("items", []) if pending.ok else [],
        "refusal": None if pending.ok else pending,
        "decisions": decisions[:DECISIONS_SHOWN],
        "decisions_refusal": decisions_refusal,
        "version": request.app.state.run_index.version,
    }


@router.get("/approvals", response_class=HTMLResponse)
async def approvals_page(request: Request, who: Viewer) -> HTMLResponse:
    context = await _approvals_context(request)
    return templates.TemplateResponse(request, "approvals.html", {**context, "who": who})


@router.get("/approvals/list", response_class=HTMLResponse)
async def approvals_list(request: Request, who: Viewer) -> HTMLResponse:
    context = await _approvals_context(request)
    return templates.TemplateResponse(request, "approvals_list.html", context)


@router.post("/approvals/{order_id}/{decision}", response_class=HTMLResponse)
async def decide(request: Request, order_id: str, decision: str, who: Actor) -> HTMLResponse:
    fields = await form_fields(request)
    reason = fields.get("reason", "").strip() or None
    answer: ApiAnswer | None = None
    problem: str | None = None
    if decision not in ("approve", "reject"):
        problem = f"there is no decision '{decision}'"
    elif decision == "reject" and not reason:
        problem = "a rejection needs a reason"
    else:
        answer = await call_api(
            request,
            "POST",
            f"/v1/approvals/{quote(order_id, safe='')}/{decision}",
            json={"reason": reason} if reason else {},
        )
    response = templates.TemplateResponse(
        request,
        "action_result.html",
        {"verb": decision, "subject": f"order {order_id}", "answer": answer, "problem": problem},
    )
    if answer is not None and answer.ok:
        response.headers["HX-Trigger"] = "approvals-changed"
    return response


@router.get("/inventory", response_class=HTMLResponse)
async def inventory_page(request: Request, who: Viewer) -> HTMLResponse:
    stock = await call_api(request, "GET", "/v1/inventory/stock")
    return templates.TemplateResponse(
        request,
        "inventory.html",
        {
            "who": who,
            "items": stock.body.get("items", []) if stock.ok else [],
            "refusal": None if stock.ok else stock,
        },
    )


async def _dead_letters_context(request: Request, token: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {"pageSize": 50}
    if token:
        params["continuationToken"] = token
    page = await call_api(request, "GET", "/v1/dead-letters", params=params)
    return {
        "items": page.body.get("items", []) if page.ok else [],
        "next_token": page.body.get("continuationToken") if page.ok else None,
        "refusal": None if page.ok else page,
    }


@router.get("/dead-letters", response_class=HTMLResponse)
async def dead_letters_page(
    request: Request, who: Viewer, after: str | None = None
) -> HTMLResponse:
    context = await _dead_letters_context(request, after)
    return templates.TemplateResponse(request, "dead_letters.html", {**context, "who": who})


@router.post("/dead-letters/{number}/replay", response_class=HTMLResponse)
async def replay(request: Request, number: int, who: Actor) -> HTMLResponse:
    answer = await call_api(request, "POST", f"/v1/dead-letters/{number}/replay")
    return templates.TemplateResponse(
        request, "action_result.html", {"verb": "replay", "answer": answer, "problem": None}
    )
