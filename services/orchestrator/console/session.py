"""Who is looking at the console: the same bearer token the API takes, pasted once on the
login page and kept in an HttpOnly cookie, so no script on the page can read it.

Every console route checks the cookie's token with the API's own check (`authenticate`):
same issuer, audience, expiry and roles. A state-changing console route also needs the
`HX-Request` header htmx sends and, when the browser names one, an `Origin` of this host:
a page on another site can neither set that header without a CORS preflight (never
granted) nor send the cookie (`SameSite=Strict`).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated

import jwt
from fastapi import Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials

from services.orchestrator.api.dependencies import authenticate
from services.orchestrator.api.errors import ApiError, ErrorCode, forbidden
from services.orchestrator.api.identity import Identity
from services.orchestrator.api.settings import ApiSettings

log = logging.getLogger("services.orchestrator.console")

COOKIE = "saga_console_token"
COOKIE_PATH = "/ui"


class LoginRequired(Exception):
    """No token, or one the API refuses: the browser goes to the login page."""

    def __init__(self, message: str | None) -> None:
        super().__init__(message)
        self.message = message


def _settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


def token_of(request: Request) -> str | None:
    return request.cookies.get(COOKIE) or None


def check_token(settings: ApiSettings, token: str | None) -> Identity:
    """The identity of `token` as the API sees it, or `LoginRequired` with the API's reason."""
    credentials = (
        HTTPAuthorizationCredentials(scheme="Bearer", credentials=token) if token else None
    )
    try:
        return authenticate(settings, credentials)
    except ApiError as error:
        raise LoginRequired(error.message if token else None) from None


async def viewer(request: Request) -> Identity:
    """The console's reader: anyone the API authenticates (the API checks roles per call)."""
    return check_token(_settings(request), token_of(request))


async def actor(request: Request) -> Identity:
    """A reader who may change state from this page (see the module docstring)."""
    identity = check_token(_settings(request), token_of(request))
    origin = request.headers.get("origin")
    same_origin = origin is None or origin == f"{request.url.scheme}://{request.url.netloc}"
    if request.headers.get("hx-request") != "true" or not same_origin:
        log.warning(
            "console change refused: not from the console's own page",
            extra={"subject": identity.subject, "path": request.url.path},
        )
        raise forbidden(ErrorCode.FORBIDDEN, "changes come from the console's own pages")
    return identity


Viewer = Annotated[Identity, Depends(viewer)]
Actor = Annotated[Identity, Depends(actor)]


def remember(response: Response, request: Request, token: str) -> None:
    """Sets the token cookie, living as long as the token does."""
    max_age: int | None = None
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
        max_age = max(0, int(claims["exp"] - datetime.now(UTC).timestamp()))
    except (jwt.PyJWTError, KeyError, TypeError, ValueError):
        max_age = None  # a session cookie; `check_token` refuses the token when it ends
    response.set_cookie(
        COOKIE,
        token,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def forget(response: Response) -> None:
    response.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict")
