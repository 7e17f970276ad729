"""The web console, served by the management API under `/ui/`: server-rendered pages
(Jinja2) made live with htmx and server-sent events, every asset served by this process
(the browser libraries from `console/node_modules`, installed by `npm ci` from the
project's lock file; docs/console.md).

`install_console(app)` adds its routes to the API app; `app.state.run_index` is the index
the runs page reads (run_index.py)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from services.orchestrator.api.errors import ErrorCode, not_found
from services.orchestrator.console import pages_operations, pages_run, pages_runs
from services.orchestrator.console.forms import form_fields
from services.orchestrator.console.rendering import HERE, templates
from services.orchestrator.console.run_index import RunIndex
from services.orchestrator.console.session import (
    LoginRequired,
    check_token,
    forget,
    remember,
)

log = logging.getLogger("services.orchestrator.console")

PREFIX = "/ui"
# The browser libraries the pages load, by the name they load them under: their files in
# the npm packages of console/package.json.
VENDOR_FILES = {
    "htmx.min.js": "htmx.org/dist/htmx.min.js",
    "sse.min.js": "htmx-ext-sse/dist/sse.min.js",
    "mermaid.min.js": "mermaid/dist/mermaid.min.js",
}
# Where `npm ci` puts them in a checkout (`make run`, `make test`).
DEFAULT_ASSETS = Path(__file__).resolve().parents[3] / "console" / "node_modules"

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("/", response_class=RedirectResponse)
async def home() -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/runs", status_code=303)


@router.get("/login", response_class=HTMLResponse)
async def login_page(
    request: Request, next_page: Annotated[str, Query(alias="next")] = ""
) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "login.html", {"next": next_page, "message": None, "who": None}
    )


def _safe_next(target: str) -> str:
    """Only a console page of this host: never an open redirect."""
    return (
        target
        if target.startswith(f"{PREFIX}/") and not target.startswith("//")
        else f"{PREFIX}/runs"
    )


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    fields = await form_fields(request)
    token = fields.get("token", "").strip()
    try:
        identity = check_token(request.app.state.settings, token or None)
    except LoginRequired as refused:
        message = refused.message or "paste a token"
        return templates.TemplateResponse(
            request,
            "login.html",
            {"next": fields.get("next", ""), "message": message, "who": None},
            status_code=401,
        )
    log.info("console login", extra={"subject": identity.subject})
    response = RedirectResponse(_safe_next(fields.get("next", "")), status_code=303)
    remember(response, request, token)
    return response


@router.post("/logout")
async def logout() -> Response:
    response = RedirectResponse(f"{PREFIX}/login", status_code=303)
    forget(response)
    return response


def _vendor_route(assets: Path) -> APIRouter:
    vendor = APIRouter(prefix=f"{PREFIX}/vendor", include_in_schema=False)

    @vendor.get("/{name}")
    async def vendor_file(name: str) -> FileResponse:
        relative = VENDOR_FILES.get(name)
        path = assets / relative if relative else None
        if path is None or not path.is_file():
            raise not_found(
                ErrorCode.NOT_FOUND, f"no console asset '{name}' (run make console-assets)"
            )
        return FileResponse(
            path, media_type="text/javascript", headers={"Cache-Control": "max-age=3600"}
        )

    return vendor


async def _to_login(request: Request, error: Exception) -> Response:
    """No valid token: a page goes to the login page (and back after), an htmx request
    asks the browser to, a live stream answers 401."""
    assert isinstance(error, LoginRequired)
    target = f"{PREFIX}/login?next={quote(request.url.path)}"
    if request.headers.get("hx-request") == "true":
        return Response(status_code=204, headers={"HX-Redirect": target})
    if request.headers.get("accept") == "text/event-stream":
        return Response(status_code=401)
    return RedirectResponse(target, status_code=303)


def install_console(app: FastAPI, gateway_index: RunIndex, assets: Path | None) -> None:
    """Serves the console from `app`, reading runs through `gateway_index`, the browser
    libraries from `assets` (default: the checkout's console/node_modules)."""
    folder = assets or DEFAULT_ASSETS
    missing = [name for name, path in VENDOR_FILES.items() if not (folder / path).is_file()]
    if missing:
        log.warning(
            "console assets missing: the pages load without them (run make console-assets)",
            extra={"folder": str(folder), "missing": missing},
        )
    app.state.run_index = gateway_index
    app.add_exception_handler(LoginRequired, _to_login)
    app.include_router(router)
    app.include_router(_vendor_route(folder))
    for module in (pages_runs, pages_run, pages_operations):
        app.include_router(module.router, prefix=PREFIX, include_in_schema=False)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="console-static")


__all__ = ["install_console"]
