"""The WebSocket opening handshake of a fork (SPEC §3): headers, signature, and wsproto.

wsproto does the HTTP upgrade and, afterwards, parses what the server sends and frames the
control replies (pong, close). Media frames never pass through it: they are written by the
native encoder straight to the socket, which wsproto does not need to know about (a client
connection keeps no state about the data frames it sends).

Two signatures go out with one nonce. `X-Signature-V3` is SPEC §3's: HMAC-SHA256 over
"GET" + service_url + nonce. `X-Plivo-Signature-V3` is what Plivo's own SDKs check: Plivo
signs the stream URL as the receiving web server sees it (scheme http(s), not ws(s)) with its
V3 scheme for a GET, so a stream server validates the upgrade with
`plivo.utils.validate_v3_signature("GET", "https://<host><path>?<query>", nonce, auth_token,
signature)` (the Node stream SDK builds exactly that URL from the Host header and request
target). The SPEC's formula cannot pass that check, so the two headers differ.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from urllib.parse import parse_qs, urlparse, urlsplit, urlunparse

import trio
import wsproto
from wsproto.connection import Connection as WsConnection
from wsproto.events import AcceptConnection, RejectConnection, RejectData, Request

import mediacore
from mediacore.engine.transport import Connection

HANDSHAKE_TIMEOUT_S = 10.0
MAX_HANDSHAKE_BYTES = 64 * 1024


class HandshakeRejected(Exception):
    """The server answered the upgrade with an HTTP status instead of 101."""

    def __init__(self, status: int, location: str | None = None) -> None:
        super().__init__(f"handshake rejected with HTTP status {status}")
        self.status = status
        self.location = location  # where a redirect points (redirects are not followed)

    @property
    def explanation(self) -> str:
        """What the status means for the stream, when the number alone would puzzle:
        "HTTP 200" reads like success, and a redirect is never followed."""
        if 300 <= self.status < 400:
            where = f" to {self.location}" if self.location else ""
            return f"a redirect{where}; redirects are not followed, use the final URL"
        if self.status < 300:
            return "not an upgrade: the server must answer 101 Switching Protocols"
        return ""


class HandshakeFailed(Exception):
    """The upgrade did not complete: the connection closed, timed out or answered garbage."""


def signature(auth_token: str, service_url: str, nonce: str) -> str:
    """X-Signature-V3: base64(HMAC-SHA256(auth token, "GET" + service_url + nonce))."""
    mac = hmac.new(auth_token.encode(), f"GET{service_url}{nonce}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode("ascii")


def plivo_signature(auth_token: str, service_url: str, nonce: str) -> str:
    """X-Plivo-Signature-V3: Plivo's V3 signature of a GET to the stream URL with its scheme
    as http(s) (wss -> https, ws -> http): base64(HMAC-SHA256(auth token, base + ["?" +
    sorted query] + "." + nonce)), where base is scheme://netloc/path and the query's
    parameters are decoded and sorted by key, then value, written k=v joined by "&" (what
    plivo.utils.signature_v3.construct_get_url builds)."""
    parts = urlparse(service_url)
    scheme = {"wss": "https", "ws": "http"}.get(parts.scheme.lower(), parts.scheme)
    base = urlunparse((scheme, parts.netloc, parts.path, "", "", ""))
    query = parse_qs(parts.query, keep_blank_values=True)
    pairs = "&".join(f"{key}={value}" for key in sorted(query) for value in sorted(query[key]))
    signed = f"{base}?{pairs}" if pairs else base
    mac = hmac.new(auth_token.encode(), f"{signed}.{nonce}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode("ascii")


def upgrade_headers(service_url: str, header_pairs, auth_token: str | None,
                    nonce: str | None = None) -> list[tuple[bytes, bytes]]:
    """The extra headers of the upgrade request, in the order they are sent."""
    headers = [(b"User-Agent", f"mediacore/{mediacore.__version__}".encode())]
    headers += [(f"X-{key}".encode(), value.encode()) for key, value in header_pairs]
    if auth_token is not None:
        nonce = nonce or secrets.token_hex(16)
        sig = signature(auth_token, service_url, nonce).encode()
        headers += [(b"X-Signature-V3-Nonce", nonce.encode()), (b"X-Signature-V3", sig),
                    (b"X-Plivo-Signature-V3-Nonce", nonce.encode()),
                    (b"X-Plivo-Signature-V3",
                     plivo_signature(auth_token, service_url, nonce).encode())]
    return headers


def request_target(service_url: str) -> tuple[str, str, int, bool]:
    """(host header, target, port, tls) of a ws:// or wss:// URL."""
    parts = urlsplit(service_url)
    tls = parts.scheme.lower() == "wss"
    port = parts.port or (443 if tls else 80)
    host = parts.hostname or ""
    host_header = f"[{host}]" if ":" in host else host
    if parts.port:
        host_header += f":{parts.port}"
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return host_header, target, port, tls


async def open_websocket(conn: Connection, service_url: str, headers) -> WsConnection:
    """Run the upgrade on `conn`; returns the wsproto connection, open. Bytes the server sent
    after the 101 are already fed to it. It is the open connection only, without the
    handshake's HTTP state (h11's parser, the request): a dozen objects per stream fewer for
    the garbage collector to walk, for as long as the stream lasts."""
    host_header, target, _, _ = request_target(service_url)
    ws = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
    request = ws.send(Request(host=host_header, target=target, extra_headers=headers))
    with trio.move_on_after(HANDSHAKE_TIMEOUT_S) as scope:
        view = memoryview(request)
        while view:
            sent = conn.send(view)
            view = view[sent:]
            if view:
                await conn.wait_writable()
        received = 0
        while True:
            data = await conn.receive()
            if not data:
                raise HandshakeFailed("the server closed the connection during the handshake")
            received += len(data)
            if received > MAX_HANDSHAKE_BYTES:
                raise HandshakeFailed("the handshake response is too large")
            try:
                ws.receive_data(data)
                for event in ws.events():
                    if isinstance(event, AcceptConnection):
                        return ws.handshake.connection
                    if isinstance(event, RejectConnection):
                        location = next((value.decode("latin-1")[:200]
                                         for name, value in event.headers
                                         if name.lower() == b"location"), None)
                        raise HandshakeRejected(event.status_code, location)
                    if isinstance(event, RejectData):
                        continue
            except wsproto.utilities.RemoteProtocolError as exc:
                raise HandshakeFailed(f"invalid handshake response: {_detail(exc)}") from None
    assert scope.cancelled_caught
    raise HandshakeFailed(f"no handshake response within {HANDSHAKE_TIMEOUT_S:g} s")


def _detail(exc: Exception) -> str:
    """wsproto's error, with the HTTP parser's (h11) reason it hides behind "Bad HTTP
    message" (an illegal status line, a header too long, ...), cut to a readable length."""
    cause = exc.__cause__ or exc.__context__
    text = f"{exc} ({cause})" if cause is not None and str(cause) else str(exc)
    return text if len(text) <= 200 else text[:197] + "..."
