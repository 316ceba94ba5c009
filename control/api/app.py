"""The ASGI app: `create_app(plane, config)`.

Routes are registered under both bases (`/v1/Account/{auth_id}/` and its alias
`/api/v1/Account/{auth_id}/`), each with and without the trailing slash, and nothing redirects.
Only the `/v1/...` form with the slash is in `/openapi.json` (the others behave the same).
`/healthz` and `/metrics` need no credentials.

The OpenAPI document is FastAPI's, from the handlers and the models in models.py, with what
the API really does filled in: request bodies as JSON and form, every error status with the
error document, the query parameters, both auth forms, and no 422 (the API answers 400).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from starlette.requests import Request

import mediacore
from control.api import errors, models
from control.api.routes import MAX_LIMIT, ApiConfig, Operations

PREFIXES = ("/v1/Account/{auth_id}", "/api/v1/Account/{auth_id}")
_ERROR = {"model": models.ErrorBody}
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "string"}}}


def _errors(*codes: int) -> dict[int | str, dict]:
    descriptions = {400: "Invalid input (the error names the field)",
                    401: "Wrong or missing credentials",
                    404: "No such call or stream (or another account's path)",
                    413: "Body too large", 429: "Rate limited", 503: "Engine at capacity"}
    out: dict[int | str, dict] = {}
    for code in (401, 404, 429, *codes):
        entry = {**_ERROR, "description": descriptions[code]}
        if code in (429, 503):
            entry["headers"] = _RETRY_AFTER
        out[code] = entry
    return out


def _body(model: type, *, required: bool) -> dict:
    """A request body as JSON or form (the same fields; form values are strings)."""
    schema = model.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
    form = {"type": "object", "additionalProperties": False,
            "properties": {name: {"type": "string"} for name in schema["properties"]},
            "required": schema.get("required", [])}
    return {"requestBody": {"required": required, "content": {
        "application/json": {"schema": schema},
        "application/x-www-form-urlencoded": {"schema": form}}}}


def _echo_body() -> dict:
    return _body(models.PathEcho, required=False)


def _query(*params: tuple[str, dict, str]) -> dict:
    return {"parameters": [{"name": name, "in": "query", "required": False, "schema": schema,
                            "description": text} for name, schema, text in params]}


def _merge(*parts: dict) -> dict:
    out: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            if isinstance(value, list):
                out[key] = out.get(key, []) + value
            else:
                out[key] = value
    return out


_LIMIT = ("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": MAX_LIMIT},
          "page size")
_OFFSET = ("offset", {"type": "integer", "minimum": 0, "default": 0}, "first item")
_STATUS = ("status", {"type": "string", "enum": ["", "initiated", "in-progress", "stopped",
                                                   "timeout", "failed"]},
           "only streams with this status (empty: all)")
_WHEN = {"type": "string", "description": "ISO 8601 date or date-time; naive means UTC"}
_XML_BODY = {"requestBody": {"required": True, "content": {
    "application/xml": {"schema": {"type": "string"}},
    "text/xml": {"schema": {"type": "string"}}}}}


def create_app(plane, config: ApiConfig | None = None, *,
               health: Callable[[], Awaitable[dict]] | None = None,
               metrics: Callable[[], Awaitable[tuple[bytes, str]]] | None = None) -> FastAPI:
    """The REST API over `plane` (a ControlPlane). `health()` gives /healthz's document;
    `metrics()` gives /metrics' body and content type."""
    config = config or ApiConfig()
    app = FastAPI(title="mediacore", version=mediacore.__version__ if hasattr(
        mediacore, "__version__") else "0.1.0", redirect_slashes=False, docs_url=None,
        redoc_url=None, description="Plivo-compatible audio streaming API (SPEC §2). Every "
        "path also answers under /api/v1/Account/{auth_id}/ and without the trailing slash.")
    app.router.redirect_slashes = False
    errors.install(app)
    ops = Operations(plane, config)

    def add(path: str, method: str, handler, status: int, response: dict, codes=(),
            extra: dict | None = None, summary: str = "") -> None:
        responses = {status: response, **_errors(*codes)}
        for prefix in PREFIXES:
            for suffix in ("/", ""):
                full = f"{prefix}/{path}{suffix}".replace("//", "/")
                if full.endswith("/") and suffix == "" and path == "":
                    continue
                app.add_api_route(
                    full, handler, methods=[method], status_code=status,
                    responses=responses, openapi_extra=extra, summary=summary or None,
                    operation_id=f"{handler.__name__}",
                    include_in_schema=(prefix == PREFIXES[0] and suffix == "/"),
                    response_class=JSONResponse)
                if method == "GET":
                    _add_head(app, full, handler)

    stream_object = {"model": models.StreamObject, "description": "The Stream object"}
    add("Call/{call_uuid}/Stream", "POST", ops.start_stream, 202,
        {"model": models.StreamStarted, "description": "Registered; connects in the background"},
        (400, 413, 503), _body(models.StartStream, required=True), "Start an audio stream")
    add("Call/{call_uuid}/Stream", "GET", ops.list_streams, 200,
        {"model": models.StreamList, "description": "Streams of the call, active and ended"},
        (400, 413), _merge(_query(_LIMIT, _OFFSET, _STATUS), _echo_body()),
        "List all audio streams")
    add("Call/{call_uuid}/Stream", "DELETE", ops.stop_all, 204,
        {"description": "Stopped (also when none was active)"}, (400, 413), _echo_body(),
        "Stop all audio streams")
    add("Call/{call_uuid}/Stream/{stream_id}", "GET", ops.get_stream, 200, stream_object,
        (400, 413), _echo_body(), "Retrieve an audio stream")
    add("Call/{call_uuid}/Stream/{stream_id}", "DELETE", ops.stop_stream, 204,
        {"description": "Stopped (also when it had ended)"}, (400, 413), _echo_body(),
        "Stop a specific audio stream")
    add("Call", "POST", ops.register_call, 201,
        {"model": models.CallObject, "description": "The call, with its RTP ports for rtp"},
        (400, 413, 503), _body(models.RegisterCall, required=True), "Register a call")
    add("Call", "GET", ops.list_calls, 200,
        {"model": models.CallList, "description": "Live calls"}, (400, 413),
        _merge(_query(_LIMIT, _OFFSET, ("status", {"type": "string", "enum": ["live", ""]},
                                         "live (or empty): every call listed is live")),
               _echo_body()), "List live calls")
    add("Call/{call_uuid}", "GET", ops.get_call, 200,
        {"model": models.CallObject, "description": "The call"}, (400, 413), _echo_body(),
        "Retrieve a live call")
    add("Call/{call_uuid}", "DELETE", ops.hangup_call, 204,
        {"description": "Hung up; every stream ends with call_hangup"}, (400, 413),
        _echo_body(), "Hang up a call")
    add("Call/{call_uuid}/Xml", "POST", ops.execute_xml, 202,
        {"model": models.XmlExecuted, "description": "The <Stream> elements were started"},
        (400, 413, 503), _merge(_XML_BODY, _query(("call_uuid", {"type": "string"},
                                                   "must equal the path's"))),
        "Execute <Response> XML on a call")
    add("Usage/Stream", "GET", ops.usage, 200,
        {"model": models.Usage, "description": "Totals over the window"}, (400, 413),
        _merge(_query(("from", _WHEN, "window start"), ("to", _WHEN, "window end")),
               _echo_body()), "Stream usage")

    @app.get("/healthz", response_model=models.Health, tags=["daemon"])
    async def healthz(request: Request):
        document = await health() if health is not None else {
            "status": "ok", "active_calls": 0, "active_streams": 0}
        return JSONResponse(document, status_code=200 if document["status"] == "ok" else 503)

    _add_head(app, "/healthz", healthz)

    if metrics is not None:
        @app.get("/metrics", tags=["daemon"], include_in_schema=False)
        async def metrics_endpoint():
            body, content_type = await metrics()
            return Response(body, media_type=content_type)

    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _add_head(app: FastAPI, path: str, handler) -> None:
    """HEAD wherever GET is (RFC 9110 §9.3.2): the same checks and status and headers, no
    body (the server drops it). Not in /openapi.json, which would list each twice."""
    app.add_api_route(path, handler, methods=["HEAD"], include_in_schema=False,
                      response_class=JSONResponse)


def _openapi(app: FastAPI) -> dict:
    if app.openapi_schema is not None:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description,
                         routes=app.routes)
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {}).update({
        "authId": {"type": "apiKey", "in": "header", "name": "X-Auth-ID"},
        "authToken": {"type": "apiKey", "in": "header", "name": "X-Auth-Token"},
        "basic": {"type": "http", "scheme": "basic"}})
    for path, item in schema["paths"].items():
        for operation in item.values():
            operation["responses"].pop("422", None)
            if path.startswith("/v1/"):
                operation["security"] = [{"authId": [], "authToken": []}, {"basic": []}]
                operation["responses"].setdefault("405", {
                    "description": "Method not allowed",
                    "content": {"application/json": {"schema": {
                        "$ref": "#/components/schemas/ErrorBody"}}}})
    for name in ("HTTPValidationError", "ValidationError"):
        components.get("schemas", {}).pop(name, None)
    _inline_defs(schema)
    app.openapi_schema = schema
    return schema


def _inline_defs(schema: dict) -> None:
    """pydantic puts nested definitions under `$defs` of the body schema; move them into
    components so every $ref resolves."""
    schemas = schema["components"].setdefault("schemas", {})
    for item in schema["paths"].values():
        for operation in item.values():
            for media in operation.get("requestBody", {}).get("content", {}).values():
                defs = media["schema"].pop("$defs", None)
                if defs:
                    schemas.update(defs)
