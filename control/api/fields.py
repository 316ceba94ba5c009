"""Request fields: the body (JSON or form, on any method) merged with the query string, and
the field-name rules of SPEC §2.

    fields = await read_fields(request, limit_bytes)        # 400 / 413 on a bad body
    fields = allowed(fields, {"service_url", ...}, path={"call_uuid": ...})

`read_fields` returns str -> JSON value (JSON body) or str -> str (form body, query string).
`allowed` rejects unknown names (400 naming the field), accepts a field that repeats a path
parameter when it equals the path's value (and drops it), and accepts Plivo's
`noise_cancellation`, `noise_cancellation_level` and `cx_bot` when they ask for nothing (and
drops them). Values are validated by whoever uses them (the control plane, StreamParams).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request

from control.api.errors import ApiError, bad_request
# the same rules as the engine's own parameter check (one definition of each)
from mediacore.engine.params import ASKS_FOR_NOTHING, INERT_OPTIONS, PATH_FIELDS

JSON_TYPES = ("application/json",)
FORM_TYPES = ("application/x-www-form-urlencoded",)


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def read_body(request: Request, limit_bytes: int) -> bytes:
    """The raw body, refused with 413 once it passes `limit_bytes` (Content-Length is
    checked first; a body without one is counted as it arrives)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit_bytes:
        raise too_large(limit_bytes)
    chunks = []
    size = 0
    async with contextlib.aclosing(request.stream()) as stream:
        async for chunk in stream:
            size += len(chunk)
            if size > limit_bytes:
                raise too_large(limit_bytes)
            chunks.append(chunk)
    return b"".join(chunks)


def too_large(limit_bytes: int) -> ApiError:
    return ApiError(413, f"The request body is larger than {limit_bytes} bytes, the most this "
                         f"server accepts.")


def parse_body(body: bytes, content_type: str) -> dict[str, Any]:
    """A JSON object or a form body as a dict; an empty body is {}."""
    if not body.strip():
        return {}
    if content_type in JSON_TYPES or content_type.endswith("+json"):
        return _json_object(body)
    if content_type in FORM_TYPES:
        return _form(body)
    if content_type == "":
        # no Content-Type: a JSON object if it looks like one, else a form body
        return _json_object(body) if body.lstrip()[:1] == b"{" else _form(body)
    raise bad_request("Content-Type", f"The body must be JSON (Content-Type: application/json) "
                                      f"or form-encoded (Content-Type: "
                                      f"application/x-www-form-urlencoded), not {content_type}.")


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body, object_pairs_hook=_json_pairs)
    except ApiError:
        raise
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request("body", f"The request body is not valid JSON ({exc}).") from None
    except RecursionError:
        # a body of thousands of nested [ or { fits the size limit but not the parser's stack
        raise bad_request("body", "The request body is not a flat JSON object (it nests too "
                                  "deeply).") from None
    if not isinstance(value, dict):
        raise bad_request("body", "The request body must be a JSON object.")
    return value


def _json_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads keeps the last of two equal names; a form or query string gets 400 for it,
    # so a JSON body does too (a client would not know which value was used)
    return _unique(pairs, "in the body")


def _form(body: bytes) -> dict[str, str]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise bad_request("body", "The form-encoded body is not valid UTF-8.") from None
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True, errors="strict")
    except UnicodeDecodeError:
        # a percent-escape that is not UTF-8 (%FF) would otherwise become U+FFFD silently
        raise bad_request("body", "The form-encoded body is not valid UTF-8 once "
                                  "percent-decoded.") from None
    except ValueError:
        raise bad_request("body", "The request body is not valid form encoding "
                                  "(name=value pairs joined by &).") from None
    return _unique(pairs, "in the body")


def _unique(pairs: Iterable[tuple[str, str]], where: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for key, value in pairs:
        if key in fields:
            raise bad_request(key, f"{key} is given more than once {where}.")
        fields[key] = value
    return fields


async def read_fields(request: Request, limit_bytes: int) -> dict[str, Any]:
    """Body fields and query parameters together (a name in both must have one value)."""
    body = parse_body(await read_body(request, limit_bytes), media_type(request))
    query = query_fields(request)
    for key, value in query.items():
        if key in body and _text(body[key]) != value:
            raise bad_request(key, f"{key} differs between the query string ({value}) and the "
                                   f"body ({body[key]}).")
        body.setdefault(key, value)
    return body


def query_fields(request: Request) -> dict[str, str]:
    return _unique(request.query_params.multi_items(), "in the query string")


def allowed(fields: Mapping[str, Any], names: Iterable[str], *,
            path: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The fields an operation takes, with path echoes and inert Plivo options removed."""
    names = frozenset(names)
    path = path or {}
    kept: dict[str, Any] = {}
    for key, value in fields.items():
        if key in path and key in PATH_FIELDS:
            if _text(value) != path[key]:
                raise bad_request(key, f"{key} in the request ({value}) does not match the "
                                       f"{key} in the path ({path[key]}).")
        elif key in INERT_OPTIONS:
            if value not in ASKS_FOR_NOTHING:
                raise bad_request(key, f"{key} is not supported.")
        elif key in names:
            kept[key] = value
        else:
            raise bad_request(key, f"Unknown field {key!r}.")
    return kept


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
