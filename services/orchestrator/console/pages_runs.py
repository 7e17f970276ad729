"""The runs page: newest first, filtered by status, workflow and creation time, searched by
order id or customer, a page at a time from the run index; and its live stream, which tells
the page (server-sent events) when the index moved so htmx fetches the table again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, StreamingResponse

from services.contracts.names import WorkflowName
from services.orchestrator.api.schemas import RUN_STATUSES
from services.orchestrator.console.rendering import templates, utc_moment
from services.orchestrator.console.run_index import RunFilter, RunIndex
from services.orchestrator.console.session import Viewer

router = APIRouter()

PAGE_SIZE = 50
# How often a live stream looks at the index, and how long one stream lasts before the
# browser reconnects (EventSource does so by itself): a stream then never outlives a
# token, and a reconnect lands on whichever replica is up.
STREAM_POLL_SECONDS = 1.0
STREAM_SECONDS = 300.0


def run_index(request: Request) -> RunIndex:
    index: RunIndex = request.app.state.run_index
    return index


class RunQuery:
    """The runs page's query string: filters, search and page."""

    def __init__(
        self,
        status: Annotated[list[str] | None, Query()] = None,
        workflow: str | None = None,
        created_from: Annotated[str | None, Query(alias="from")] = None,
        created_to: Annotated[str | None, Query(alias="to")] = None,
        q: str | None = None,
        page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    ) -> None:
        self.statuses = [s.upper() for s in status or [] if s and s.upper() in RUN_STATUSES]
        self.workflow = workflow if workflow in {w.value for w in WorkflowName} else None
        self.created_from = created_from or ""
        self.created_to = created_to or ""
        self.search = (q or "").strip()
        self.page = page

    def filter(self) -> RunFilter:
        return RunFilter(
            statuses=frozenset(self.statuses),
            workflow=self.workflow,
            created_from=utc_moment(self.created_from),
            created_to=utc_moment(self.created_to),
            search=self.search or None,
        )

    def query_string(self, page: int | None = None) -> str:
        pairs: list[tuple[str, str | int]] = [("status", s) for s in self.statuses]
        pairs += [
            (key, value)
            for key, value in (
                ("workflow", self.workflow or ""),
                ("from", self.created_from),
                ("to", self.created_to),
                ("q", self.search),
            )
            if value
        ]
        pairs.append(("page", page or self.page))
        return urlencode(pairs)


def _table_context(request: Request, query: RunQuery) -> dict[str, object]:
    page = run_index(request).page(query.filter(), query.page, PAGE_SIZE)
    return {"page": page, "query": query}


@router.get("/runs", response_class=HTMLResponse)
async def runs_page(
    request: Request, who: Viewer, query: Annotated[RunQuery, Depends()]
) -> HTMLResponse:
    context = await run_in_threadpool(_table_context, request, query)
    return templates.TemplateResponse(
        request,
        "runs.html",
        {
            **context,
            "who": who,
            "statuses": RUN_STATUSES,
            "workflows": [w.value for w in WorkflowName],
        },
    )


@router.get("/runs/table", response_class=HTMLResponse)
async def runs_table(
    request: Request, who: Viewer, query: Annotated[RunQuery, Depends()]
) -> HTMLResponse:
    context = await run_in_threadpool(_table_context, request, query)
    return templates.TemplateResponse(request, "runs_table.html", context)


@router.get("/stream")
async def live_stream(
    request: Request, who: Viewer, since: Annotated[int, Query(ge=0)] = 0
) -> StreamingResponse:
    """`event: runs` each time a run appears, changes status or step, or goes."""
    index = run_index(request)
    stopping = request.app.state.settings.shutting_down

    async def events() -> AsyncIterator[str]:
        seen = since
        loop = asyncio.get_running_loop()
        ends = loop.time() + STREAM_SECONDS
        yield "retry: 2000\n\n"
        while loop.time() < ends and not (stopping and stopping()):
            if await request.is_disconnected():
                return
            contents = await run_in_threadpool(index.current)
            if contents.version != seen:
                seen = contents.version
                yield f"event: runs\ndata: {seen}\n\n"
            await asyncio.sleep(STREAM_POLL_SECONDS)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
