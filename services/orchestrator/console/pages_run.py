"""A run's page: its summary (status, input, output, custom status, failure), the timeline
of its steps with compensations marked, its Mermaid diagram, its trace (the local span
store's, `GET /v1/runs/{id}/trace`), its history events, and the
actions the API has for it (suspend, resume, terminate, cancel, raise event, rerun), each
a call to the API whose answer, a refusal's `detail` included, the page shows."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.contracts.names import saga_instance_id
from services.orchestrator.api.schemas import HistoryEvent
from services.orchestrator.console.api_calls import ApiAnswer, call_api
from services.orchestrator.console.forms import form_fields
from services.orchestrator.console.rendering import templates
from services.orchestrator.console.session import Actor, Viewer
from services.orchestrator.console.timeline import build_timeline, reverse_order_text
from services.orchestrator.console.trace_view import trace_rows

router = APIRouter()

_ORDER_PREFIX = saga_instance_id("")


def _run_path(instance_id: str) -> str:
    return f"/v1/runs/{quote(instance_id, safe='')}"


async def _live_context(
    request: Request, instance_id: str, run: ApiAnswer | None = None
) -> dict[str, Any]:
    """What the live part of the page shows; the API's refusal when it has the run not."""
    run = run or await call_api(request, "GET", _run_path(instance_id))
    if not run.ok:
        return {"refusal": run}
    history = await call_api(request, "GET", f"{_run_path(instance_id)}/history")
    mermaid = await call_api(request, "GET", f"{_run_path(instance_id)}/history/mermaid")
    trace = await call_api(request, "GET", f"{_run_path(instance_id)}/trace")
    events = (
        [HistoryEvent.model_validate(event) for event in history.body.get("events", [])]
        if history.ok
        else []
    )
    timeline = build_timeline(events)
    return {
        "run": run.body,
        "events": events,
        "history_refusal": None if history.ok else history,
        "timeline": timeline,
        "reverse_order": reverse_order_text(timeline),
        "diagram": mermaid.body if mermaid.ok and isinstance(mermaid.body, str) else None,
        "trace": trace_rows(trace.body["spans"]) if trace.ok else [],
        "trace_refusal": None if trace.ok else trace,
    }


@router.get("/runs/{instance_id}", response_class=HTMLResponse)
async def run_page(request: Request, instance_id: str, who: Viewer) -> HTMLResponse:
    context = await _live_context(request, instance_id)
    return templates.TemplateResponse(
        request,
        "run.html",
        {
            **context,
            "who": who,
            "instance_id": instance_id,
            "order_id": instance_id.removeprefix(_ORDER_PREFIX)
            if instance_id.startswith(_ORDER_PREFIX)
            else None,
            "version": request.app.state.run_index.version,
        },
        status_code=404 if context.get("refusal") and context["refusal"].status == 404 else 200,
    )


@router.get("/runs/{instance_id}/live", response_class=HTMLResponse)
async def run_live(
    request: Request, instance_id: str, who: Viewer, updated: str | None = None
) -> Response:
    """The live part again, or 204 (htmx leaves the page as it is) when the run has not
    changed since `updated`: the stream says some run changed, not which, and redrawing
    an unchanged run would close what the reader opened and redraw the diagram."""
    run = await call_api(request, "GET", _run_path(instance_id))
    if run.ok and updated and run.body.get("lastUpdatedAt") == updated:
        return Response(status_code=204)
    context = await _live_context(request, instance_id, run)
    return templates.TemplateResponse(
        request, "run_live.html", {**context, "instance_id": instance_id}
    )


def _json_field(text: str, field: str) -> tuple[Any, str | None]:
    """The JSON of a form field (empty: none), or the reason it is not JSON."""
    if not text.strip():
        return None, None
    try:
        return json.loads(text), None
    except ValueError as error:
        return None, f"{field} is not JSON: {error}"


async def _action_call(
    request: Request, instance_id: str, verb: str, fields: dict[str, str]
) -> ApiAnswer | str:
    """The API call behind an action button: its answer, or why it was not sent."""
    reason = fields.get("reason", "").strip() or None
    body: dict[str, Any] = {"reason": reason} if reason else {}
    path = _run_path(instance_id)
    match verb:
        case "suspend" | "resume":
            return await call_api(request, "POST", f"{path}/{verb}", json=body)
        case "terminate":
            return await call_api(request, "POST", f"{path}/terminate", json=body)
        case "cancel":
            if not instance_id.startswith(_ORDER_PREFIX):
                return "only an order's saga can be cancelled (this run is not one)"
            order_id = quote(instance_id.removeprefix(_ORDER_PREFIX), safe="")
            return await call_api(request, "POST", f"/v1/orders/{order_id}/cancel", json=body)
        case "raise-event":
            name = fields.get("event_name", "").strip()
            if not name:
                return "name the event to raise"
            data, problem = _json_field(fields.get("event_data", ""), "the event's data")
            if problem:
                return problem
            return await call_api(
                request, "POST", f"{path}/events/{quote(name, safe='')}", json={"data": data}
            )
        case "rerun":
            rerun: dict[str, Any] = {}
            event_id = fields.get("event_id", "").strip()
            if event_id:
                if not event_id.isdigit():
                    return "the event id is a number from the history"
                rerun["eventId"] = int(event_id)
            return await call_api(request, "POST", f"{path}/rerun", json=rerun)
        case _:
            return f"there is no action '{verb}'"


@router.post("/runs/{instance_id}/actions/{verb}", response_class=HTMLResponse)
async def run_action(request: Request, instance_id: str, verb: str, who: Actor) -> HTMLResponse:
    answer = await _action_call(request, instance_id, verb, await form_fields(request))
    response = templates.TemplateResponse(
        request,
        "action_result.html",
        {
            "verb": verb,
            "answer": answer if isinstance(answer, ApiAnswer) else None,
            "problem": answer if isinstance(answer, str) else None,
        },
    )
    if isinstance(answer, ApiAnswer) and answer.ok:
        response.headers["HX-Trigger"] = "run-changed"
    return response
