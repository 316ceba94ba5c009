"""Errors in the SPEC's shape: `{"api_id": "...", "error": "<one sentence>"}`.

Every failure the API reports goes through `ApiError` (or is turned into one by the handlers
`install` registers), so a client never sees a framework's default body: no FastAPI 422, no
Starlette "Not Found" text, no HTML 500 page.
"""

from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from mediacore.engine import EngineFull, InvalidParameter, NotFound

log = logging.getLogger("control.api")

ENGINE_FULL_RETRY_AFTER_S = 5


class ApiError(Exception):
    """An HTTP error with a sentence a person can act on."""

    def __init__(self, status: int, message: str, *, headers: dict[str, str] | None = None,
                 field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.field = field


def bad_request(field: str, message: str) -> ApiError:
    return ApiError(400, message, field=field)


def api_id(request: Request) -> str:
    """The request's api_id (made on first use, then kept on the request)."""
    value = getattr(request.state, "api_id", None)
    if value is None:
        value = request.state.api_id = str(uuid.uuid4())
    return value


def error_response(request: Request, status: int, message: str,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"api_id": api_id(request), "error": message}, status_code=status,
                        headers=headers)


_STATUS_SENTENCES = {
    404: "No such resource: check the path (base /v1/Account/{auth_id}/).",
    405: "This method is not allowed on this path.",
}


def install(app: FastAPI) -> None:
    """Register the handlers that give every error the SPEC's shape."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return error_response(request, exc.status, exc.message, exc.headers)

    @app.exception_handler(InvalidParameter)
    async def _invalid(request: Request, exc: InvalidParameter):
        return error_response(request, 400, str(exc))

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound):
        return error_response(request, 404, _sentence(str(exc)))

    @app.exception_handler(EngineFull)
    async def _full(request: Request, exc: EngineFull):
        return error_response(request, 503, _sentence(f"Try again later: {exc}"),
                              {"Retry-After": str(ENGINE_FULL_RETRY_AFTER_S)})

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        return error_response(request, 400, validation_sentence(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        message = _STATUS_SENTENCES.get(exc.status_code)
        if message is None:
            message = _sentence(str(exc.detail))
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            allow = allowed_methods(request)
            headers["Allow"] = ", ".join(allow)
            message = f"{request.method} is not allowed on this path; use {' or '.join(allow)}."
        return error_response(request, exc.status_code, message, headers)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception):
        log.exception("request %s %s failed", request.method, request.url.path,
                      extra={"api_id": api_id(request)})
        return error_response(request, 500, "Internal error; the server logged it under this "
                                            "api_id.")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route takes on this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches({**request.scope, "method": "\0"})
        if match is Match.PARTIAL and getattr(route, "methods", None):
            methods |= set(route.methods)
    methods.discard("HEAD") if "GET" not in methods else None
    return sorted(methods)


def validation_sentence(exc: RequestValidationError) -> str:
    """The first problem FastAPI found in the query string, as one sentence naming it."""
    error = exc.errors()[0]
    loc = [str(part) for part in error.get("loc", ()) if part not in ("query", "path", "body")]
    field = ".".join(loc) or "request"
    return _sentence(f"Invalid {field}: {error.get('msg', 'invalid value')}")


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return "Error."
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."
