"""The console's forms arrive URL-encoded (htmx and the login page send them so): read with
the standard library, as the few flat fields they hold need no multipart parser."""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import Request

# A form is a few short fields; anything larger is not one of the console's.
MAX_FORM_BYTES = 64 * 1024


async def form_fields(request: Request) -> dict[str, str]:
    """The form's fields (the last value of a repeated one); empty when there is no form."""
    if "application/x-www-form-urlencoded" not in request.headers.get("content-type", ""):
        return {}
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
