"""Stream parameters (SPEC §2.1): parsing and validation, with the messages the REST API shows.

`StreamParams.parse(body, policy=...)` takes the decoded request body (JSON or form: booleans may
be `true` or `"true"`, numbers may be numeric strings) and returns a frozen `StreamParams`, or
raises `InvalidParameter` whose message is one sentence a person can act on and whose `field`
names the offending field. What needs the engine's state (the per-call limits, the same URL
twice, one bidirectional stream per call) and what needs DNS (the address rules for host names)
is checked by the engine when the stream starts; literal IP addresses are checked here.
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from mediacore.codec import ByteOrder, Format
from mediacore.engine.url_syntax import url_problem

MAX_URL_CHARS = 2048
MAX_EXTRA_HEADERS_BYTES = 512
MAX_STREAM_TIMEOUT_S = 86400
MAX_RETRIES = 10

_HEADER_TOKEN = re.compile(r"[A-Za-z0-9._-]+")
# fields that repeat a path parameter: accepted when equal to the path's value
PATH_FIELDS = ("call_uuid", "stream_id")
# Plivo options that existing SDKs send: accepted when they ask for nothing
INERT_OPTIONS = ("noise_cancellation", "noise_cancellation_level", "cx_bot")
# what an inert option may carry and still ask for nothing (booleans may come as strings)
ASKS_FOR_NOTHING = (None, False, "", "false", "False", "FALSE")


class InvalidParameter(ValueError):
    """A stream parameter is missing or invalid (HTTP 400); `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class AudioTrack(str, enum.Enum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    BOTH = "both"

    @property
    def tracks(self) -> tuple[str, ...]:
        """Track names in the order frames of one tick are sent (inbound first)."""
        return ("inbound", "outbound") if self is AudioTrack.BOTH else (self.value,)


class Protocol(str, enum.Enum):
    PLIVO = "plivo"
    TWILIO = "twilio"


class CallbackMethod(str, enum.Enum):
    GET = "GET"
    POST = "POST"


@dataclasses.dataclass(frozen=True)
class UrlPolicy:
    """Which service and callback addresses this server accepts.

    By default only `wss://` service URLs and public addresses; `allow_plain_ws` admits
    `ws://`, and `allowed_networks` admits private, loopback or link-local networks (tests and
    the demo allow loopback explicitly)."""

    allow_plain_ws: bool = False
    allowed_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @classmethod
    def allowing(cls, *networks: str, plain_ws: bool = False) -> UrlPolicy:
        return cls(plain_ws, tuple(ipaddress.ip_network(n) for n in networks))

    def check_address(self, field: str, address: str) -> None:
        """Refuse an IP address that is not public unless a configured network holds it."""
        ip = ipaddress.ip_address(address.split("%")[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        if not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
                or ip.is_reserved or ip.is_unspecified):
            return
        if any(ip in net for net in self.allowed_networks):
            return
        raise InvalidParameter(
            field, f"{field} points to a private, loopback or link-local address ({ip}), "
                   f"which this server does not allow.")


DEFAULT_POLICY = UrlPolicy()


@dataclasses.dataclass(frozen=True)
class StreamParams:
    """A validated stream request. Field names are the REST API's; `stream_timeout` is in
    seconds."""

    service_url: str
    bidirectional: bool = False
    audio_track: AudioTrack = AudioTrack.INBOUND
    stream_timeout: int = MAX_STREAM_TIMEOUT_S
    status_callback_url: str | None = None
    status_callback_method: CallbackMethod = CallbackMethod.POST
    content_type: Format = Format.L16_8K
    extra_headers: str | None = None
    protocol: Protocol = Protocol.PLIVO
    l16_byte_order: ByteOrder = ByteOrder.LE
    max_retries: int = 0

    @property
    def header_pairs(self) -> tuple[tuple[str, str], ...]:
        """extra_headers as (key, value) pairs, in the order given."""
        return _header_pairs(self.extra_headers) if self.extra_headers else ()

    @property
    def service_host(self) -> str:
        return urlsplit(self.service_url).hostname or ""

    @classmethod
    def parse(cls, body: Mapping[str, Any], *, policy: UrlPolicy = DEFAULT_POLICY,
              path: Mapping[str, str] | None = None) -> StreamParams:
        """Validate a request body. `path` holds the path parameters (call_uuid, stream_id)
        that a body may repeat."""
        path = path or {}
        for key, value in body.items():
            if key in PATH_FIELDS and key in path:
                if str(value) != path[key]:
                    raise InvalidParameter(key, f"{key} in the body ({value}) does not match "
                                                f"the {key} in the path ({path[key]}).")
            elif key in INERT_OPTIONS:
                if value not in ASKS_FOR_NOTHING:
                    raise InvalidParameter(key, f"{key} is not supported.")
            elif key not in _FIELDS:
                raise InvalidParameter(key, f"Unknown field {key!r}.")
        get = {k: v for k, v in body.items() if k in _FIELDS and v is not None}.get

        service_url = _service_url(get("service_url"), policy)
        bidirectional = _boolean("bidirectional", get("bidirectional", False))
        audio_track = _choice("audio_track", get("audio_track", "inbound"), AudioTrack)
        if bidirectional and audio_track is not AudioTrack.INBOUND:
            raise InvalidParameter("audio_track", "bidirectional streams must use audio_track "
                                                  "inbound.")
        protocol = _choice("protocol", get("protocol", "plivo"), Protocol)
        content_type = _content_type(get("content_type"), protocol)
        callback_url = get("status_callback_url")
        if callback_url is not None and callback_url != "":
            callback_url = _callback_url(callback_url, policy)
        else:
            callback_url = None
        return cls(
            service_url=service_url,
            bidirectional=bidirectional,
            audio_track=audio_track,
            stream_timeout=_integer("stream_timeout", get("stream_timeout", MAX_STREAM_TIMEOUT_S),
                                    1, MAX_STREAM_TIMEOUT_S, "a whole number of seconds"),
            status_callback_url=callback_url,
            status_callback_method=_choice("status_callback_method",
                                           get("status_callback_method", "POST"),
                                           CallbackMethod, upper=True),
            content_type=content_type,
            extra_headers=_extra_headers(get("extra_headers")),
            protocol=protocol,
            l16_byte_order=_choice("l16_byte_order", get("l16_byte_order", "le"), ByteOrder),
            max_retries=_integer("max_retries", get("max_retries", 0), 0, MAX_RETRIES,
                                 "a whole number"),
        )


_FIELDS = frozenset(f.name for f in dataclasses.fields(StreamParams))


def _boolean(field: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise InvalidParameter(field, f"{field} must be true or false.")


def _integer(field: str, value: Any, low: int, high: int, what: str) -> int:
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    if number is None or not low <= number <= high:
        raise InvalidParameter(field, f"{field} must be {what} from {low} to {high}.")
    return number


def _choice(field: str, value: Any, enum_type: type[enum.Enum], *, upper: bool = False):
    if isinstance(value, str):
        text = value.strip().upper() if upper else value.strip().lower()
        for member in enum_type:
            if member.value == text:
                return member
    names = ", ".join(m.value for m in enum_type)
    raise InvalidParameter(field, f"{field} must be one of {names}, not {value!r}.")


def _content_type(value: Any, protocol: Protocol) -> Format:
    if protocol is Protocol.TWILIO:
        if value is None or (isinstance(value, str) and _try_format(value) is Format.MULAW_8K):
            return Format.MULAW_8K
        raise InvalidParameter("content_type", "protocol twilio carries audio/x-mulaw;rate=8000 "
                                               "only; leave content_type out or set it to that.")
    if value is None:
        return Format.L16_8K
    fmt = _try_format(value)
    if fmt is None:
        accepted = ", ".join(f.value for f in Format)
        raise InvalidParameter("content_type", f"content_type must be one of {accepted}, "
                                               f"not {value!r}.")
    return fmt


def _try_format(value: Any) -> Format | None:
    try:
        return Format.parse(value)
    except ValueError:
        return None


def _header_pairs(text: str) -> tuple[tuple[str, str], ...]:
    return tuple(tuple(item.split("=", 1)) for item in text.split(","))  # type: ignore[misc]


def _extra_headers(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidParameter("extra_headers", "extra_headers must be a string of key=value "
                                                "pairs separated by commas.")
    if len(value.encode()) > MAX_EXTRA_HEADERS_BYTES:
        raise InvalidParameter("extra_headers", f"extra_headers must be at most "
                                                f"{MAX_EXTRA_HEADERS_BYTES} bytes.")
    for item in value.split(","):
        key, sep, val = item.partition("=")
        if not sep or not _HEADER_TOKEN.fullmatch(key) or not _HEADER_TOKEN.fullmatch(val):
            raise InvalidParameter(
                "extra_headers", f"extra_headers must be key=value pairs separated by commas, "
                                 f"keys and values using only letters, digits, '.', '_' and "
                                 f"'-' (bad pair: {item!r}).")
    return value


def _checked_url(field: str, value: Any, schemes: tuple[str, ...], shown: str,
                 policy: UrlPolicy) -> str:
    if value is None or value == "":
        raise InvalidParameter(field, f"{field} is required.")
    if not isinstance(value, str):
        raise InvalidParameter(field, f"{field} must be a string.")
    if len(value) > MAX_URL_CHARS:
        raise InvalidParameter(field, f"{field} must be at most {MAX_URL_CHARS} characters.")
    value = value.strip()
    try:
        parts = urlsplit(value)
        host, _ = parts.hostname, parts.port
    except ValueError:
        raise InvalidParameter(field, f"{field} is not a valid URL.") from None
    if parts.scheme.lower() not in schemes:
        hint = ("; plain ws:// is not enabled on this server"
                if parts.scheme.lower() == "ws" and field == "service_url" else "")
        raise InvalidParameter(field, f"{field} must be a {shown} URL{hint}.")
    if not host:
        raise InvalidParameter(field, f"{field} has no host.")
    if parts.username is not None or parts.password is not None:
        raise InvalidParameter(field, f"{field} must not contain credentials.")
    problem = url_problem(field, value)
    if problem is not None:
        raise InvalidParameter(field, problem)
    try:
        ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return value  # a host name: the engine resolves and checks it when connecting
    policy.check_address(field, host)
    return value


def _service_url(value: Any, policy: UrlPolicy) -> str:
    if policy.allow_plain_ws:
        return _checked_url("service_url", value, ("wss", "ws"), "wss:// or ws://", policy)
    return _checked_url("service_url", value, ("wss",), "wss://", policy)


def _callback_url(value: Any, policy: UrlPolicy) -> str:
    return _checked_url("status_callback_url", value, ("https", "http"), "http:// or https://",
                        policy)
