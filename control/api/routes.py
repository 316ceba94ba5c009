"""The operations of SPEC §2: streams (§2.1), calls (§2.3) and usage, as FastAPI handlers.

Each handler authenticates (auth.py), takes a token from the account's bucket
(ratelimit.py), reads its fields from the body and query string (fields.py, which rejects
unknown names) and calls the control plane. The plane raises InvalidParameter / NotFound /
EngineFull, which errors.py turns into 400 / 404 / 503.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

from fastapi.responses import JSONResponse, Response
from starlette.requests import Request

from control.api import fields as F
from control.api.auth import authenticate
from control.api.errors import ApiError, api_id, bad_request
from control.api.ratelimit import RateLimiter
from control.xml import XmlError, parse_response

START_FIELDS = ("service_url", "bidirectional", "audio_track", "stream_timeout",
                "status_callback_url", "status_callback_method", "content_type",
                "extra_headers", "protocol", "l16_byte_order", "max_retries")
CALL_FIELDS = ("call_uuid", "from", "to", "ingress", "codec", "sample_rate", "rtp_remote",
               "answer_url", "hangup_url")
STATUSES = ("initiated", "in-progress", "stopped", "timeout", "failed")
MAX_LIMIT = 20
# the stores bind offsets as 64-bit integers; any offset up to that is a page past the end
MAX_OFFSET = 2**63 - 1
XML_TYPES = ("application/xml", "text/xml", "")


@dataclasses.dataclass
class ApiConfig:
    """What the HTTP layer enforces itself (the config file's body and rate limits)."""

    body_limit_bytes: int = 64 * 1024
    rate_limit_per_s: float = 20.0
    rate_limit_burst: int = 40
    clock: Callable[[], float] = time.monotonic


class Operations:
    def __init__(self, plane, config: ApiConfig) -> None:
        self.plane = plane
        self.config = config
        self.limiter = RateLimiter(config.rate_limit_per_s, config.rate_limit_burst)

    async def begin(self, request: Request, auth_id: str, names=(), **path: str):
        """Authenticate, rate-limit, read the fields: (account, fields)."""
        account = await authenticate(request, self.plane, auth_id)
        self._take(account)
        raw = await F.read_fields(request, self.config.body_limit_bytes)
        return account, F.allowed(raw, names, path=path)

    # -- streams (SPEC §2.1) ------------------------------------------------------------------

    async def start_stream(self, request: Request, auth_id: str, call_uuid: str):
        account, fields = await self.begin(request, auth_id, START_FIELDS, call_uuid=call_uuid)
        stream = await self.plane.start_stream(account, call_uuid, fields)
        return _json(request, {"message": "audio streaming started",
                               "stream_id": stream["stream_id"]}, 202)

    async def get_stream(self, request: Request, auth_id: str, call_uuid: str, stream_id: str):
        account, _ = await self.begin(request, auth_id, call_uuid=call_uuid, stream_id=stream_id)
        return _json(request, await self.plane.get_stream(account, call_uuid, stream_id))

    async def list_streams(self, request: Request, auth_id: str, call_uuid: str):
        account, fields = await self.begin(request, auth_id, ("limit", "offset", "status"),
                                           call_uuid=call_uuid)
        limit, offset = _page(fields)
        status = fields.get("status") or None
        if status is not None and status not in STATUSES:
            raise bad_request("status", f"status must be empty or one of {', '.join(STATUSES)}, "
                                        f"not {status!r}.")
        page, total = await self.plane.list_streams(account, call_uuid, status=status,
                                                    limit=limit, offset=offset)
        base = f"{_prefix(request)}/Account/{auth_id}/Call/{call_uuid}/Stream/"
        extra = {"status": status} if status else {}
        return _json(request, {"meta": _meta(base, limit, offset, total, extra),
                               "objects": page})

    async def stop_stream(self, request: Request, auth_id: str, call_uuid: str,
                          stream_id: str):
        account, _ = await self.begin(request, auth_id, call_uuid=call_uuid, stream_id=stream_id)
        await self.plane.stop_stream(account, call_uuid, stream_id)
        return Response(status_code=204)

    async def stop_all(self, request: Request, auth_id: str, call_uuid: str):
        account, _ = await self.begin(request, auth_id, call_uuid=call_uuid)
        await self.plane.stop_all(account, call_uuid)
        return Response(status_code=204)

    # -- calls (SPEC §2.3) --------------------------------------------------------------------

    async def register_call(self, request: Request, auth_id: str):
        account, fields = await self.begin(request, auth_id, CALL_FIELDS)
        call = await self.plane.register_call(account, fields)
        response = _json(request, call, 201)
        # RFC 9110 §15.3.2: a 201 names the resource it created
        response.headers["Location"] = (f"{_prefix(request)}/Account/{auth_id}/Call/"
                                        f"{quote(call['call_uuid'], safe='')}/")
        return response

    async def list_calls(self, request: Request, auth_id: str):
        # Plivo's SDK lists live calls with ?status=live and reads their ids from "calls"
        # (live_calls.list_ids): every call listed here is live, so both are served
        account, fields = await self.begin(request, auth_id, ("limit", "offset", "status"))
        if fields.get("status") not in (None, "", "live"):
            raise bad_request("status", f"status must be empty or 'live', not "
                                        f"{fields['status']!r}.")
        limit, offset = _page(fields)
        calls = await self.plane.list_calls(account)
        base = f"{_prefix(request)}/Account/{auth_id}/Call/"
        return _json(request, {"meta": _meta(base, limit, offset, len(calls), {}),
                               "objects": calls[offset:offset + limit],
                               "calls": [c["call_uuid"] for c in calls]})

    async def get_call(self, request: Request, auth_id: str, call_uuid: str):
        # Plivo's SDK (live_calls.get) asks for a live call with ?status=live: every call
        # shown here is live, so that filter is accepted and any other status is refused
        account, fields = await self.begin(request, auth_id, ("status",), call_uuid=call_uuid)
        if fields.get("status") not in (None, "", "live"):
            raise bad_request("status", f"status must be empty or 'live', not "
                                        f"{fields['status']!r}.")
        return _json(request, await self.plane.get_call(account, call_uuid))

    async def hangup_call(self, request: Request, auth_id: str, call_uuid: str):
        account, _ = await self.begin(request, auth_id, call_uuid=call_uuid)
        await self.plane.hangup_call(account, call_uuid)
        return Response(status_code=204)

    async def execute_xml(self, request: Request, auth_id: str, call_uuid: str):
        account = await authenticate(request, self.plane, auth_id)
        self._take(account)
        F.allowed(F.query_fields(request), (), path={"call_uuid": call_uuid})
        if F.media_type(request) not in XML_TYPES:
            raise bad_request("Content-Type", "The body must be a <Response> XML document "
                                              "(Content-Type application/xml or text/xml).")
        body = await F.read_body(request, self.config.body_limit_bytes)
        try:
            streams = parse_response(body, strict=True)
        except XmlError as exc:
            raise bad_request("xml", str(exc)) from None
        started = await self.plane.execute_xml(account, call_uuid, streams)
        return _json(request, {"message": "XML executed",
                               "stream_ids": [s["stream_id"] for s in started]}, 202)

    def _take(self, account) -> None:
        wait = self.limiter.take(account.auth_id, self.config.clock())
        if wait:
            raise ApiError(429, f"Too many requests for this account (at most "
                                f"{self.config.rate_limit_per_s:g} per second); retry later.",
                           headers={"Retry-After": RateLimiter.retry_after_header(wait)})

    # -- usage --------------------------------------------------------------------------------

    async def usage(self, request: Request, auth_id: str):
        account, fields = await self.begin(request, auth_id, ("from", "to"))
        start = _when("from", fields.get("from"))
        end = _when("to", fields.get("to"))
        if start is not None and end is not None and start > end:
            raise bad_request("from", "from must not be later than to.")
        return _json(request, await self.plane.usage(account, start, end))


def _json(request: Request, document: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse({"api_id": api_id(request), **document}, status_code=status)


def _prefix(request: Request) -> str:
    """The base the request came in on (/v1 or its alias /api/v1), for the URIs we give."""
    return "/api/v1" if request.url.path.startswith("/api/") else "/v1"


def _page(fields: dict[str, Any]) -> tuple[int, int]:
    limit = _whole("limit", fields.get("limit", MAX_LIMIT), 1, MAX_LIMIT)
    offset = _whole("offset", fields.get("offset", 0), 0, MAX_OFFSET)
    return limit, offset


def _whole(field: str, value: Any, low: int, high: int) -> int:
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif (isinstance(value, str) and value.strip().isdigit() and value.isascii()
          and len(value.strip()) <= len(str(high))):  # int() of 4301+ digits raises
        number = int(value.strip())
    if number is None or not low <= number <= high:
        raise bad_request(field, f"{field} must be a whole number from {low} to {high}, not "
                                 f"{_shown(value)}.")
    return number


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _meta(base: str, limit: int, offset: int, total: int, extra: dict[str, str]) -> dict:
    def uri(at: int) -> str:
        return f"{base}?{urlencode({'limit': limit, 'offset': at, **extra})}"

    return {"limit": limit, "offset": offset, "total_count": total,
            "next": uri(offset + limit) if offset + limit < total else None,
            "previous": uri(max(0, offset - limit)) if offset > 0 else None}


def _when(field: str, value: Any) -> dt.datetime | None:
    """ISO 8601 date or date-time (Plivo's `YYYY-MM-DD HH:MM[:SS]` too); naive means UTC."""
    if value is None or value == "":
        return None
    try:
        when = dt.datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise bad_request(field, f"{field} must be an ISO 8601 date or time such as "
                                 f"2025-01-31 or 2025-01-31T12:00:00Z, not {value!r}.") from None
    if when.tzinfo is None:
        return when.replace(tzinfo=dt.timezone.utc)
    try:
        return when.astimezone(dt.timezone.utc)
    except OverflowError:  # 0001-01-01T00:00+14:00 is before year 1 in UTC
        raise bad_request(field, f"{field} must fall within the years 1 to 9999 in UTC, not "
                                 f"{value!r}.") from None
