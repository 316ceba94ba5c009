"""What a URL the API takes must look like beyond parsing: the characters a request line and
a DNS lookup can carry.

    url_problem("service_url", url)      # what is wrong, naming the field, or None
    host_problem("rtp_remote", host)

StreamParams (params.py) applies these to service_url and status_callback_url, so an
application embedding the engine gets the REST API's rules and messages; the control plane
applies them to its own URL fields too (answer_url, hangup_url, rtp_remote's host).

Why: a URL parser admits any text after the scheme. A non-ASCII host, an empty or
over-long label (`a..b`, 64+ characters) made the DNS lookup raise (a 500 instead of a 400),
and a space, control character or non-ASCII character in the path was accepted with 202 and
then failed the WebSocket upgrade as an internal error (and for a callback URL, HTTP clients
percent-encode such a path, so the receiver's signature check would fail). So every URL field
(`service_url`, `status_callback_url`, `answer_url`, `hangup_url`, `<Stream>` text) holds
printable ASCII only: other characters percent-encoded, an international host name in its
`xn--` form. `service_url` also may not carry a fragment: RFC 6455 §3 forbids one on
WebSocket URIs.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

MAX_HOST_CHARS = 253
MAX_LABEL_CHARS = 63


def url_problem(field: str, url: str) -> str | None:
    """Why `url` (a URL that parses, with a scheme and a host) cannot be used as is, or None."""
    for position, char in enumerate(url):
        if not "\x21" <= char <= "\x7e":
            return (f"{field} may hold only printable ASCII characters without spaces, not "
                    f"{char!r} (position {position + 1}): percent-encode the others, and "
                    f"write an international host name in its xn-- form.")
    if field == "service_url" and "#" in url:
        return "service_url must not have a fragment (#...): WebSocket URLs cannot carry one."
    return host_problem(field, urlsplit(url).hostname or "")


def host_problem(field: str, host: str) -> str | None:
    """None for an IP address, or a DNS name of ASCII labels of 1 to 63 characters (253 in
    all); else what is wrong."""
    try:
        ipaddress.ip_address(host.split("%")[0])
        return None
    except ValueError:
        pass
    name = host[:-1] if host.endswith(".") else host  # a trailing dot is the root: allowed
    labels = name.split(".")
    if (not host.isascii() or not name or len(name) > MAX_HOST_CHARS
            or any(not 1 <= len(label) <= MAX_LABEL_CHARS for label in labels)):
        return (f"{field} has an invalid host name {host!r}: write it as ASCII labels of 1 to "
                f"{MAX_LABEL_CHARS} characters separated by dots ({MAX_HOST_CHARS} in all; an "
                f"international name in its xn-- form).")
    return None
