"""Status callback signatures: Plivo's V3 scheme, so receivers can validate with Plivo's SDKs
(`plivo.utils.signature_v3.validate_v3_signature(method, uri, nonce, auth_token, signature,
params)`) unchanged.

    X-Signature-V3       = base64(HMAC-SHA256(auth token, signed + "." + nonce))
    X-Signature-V3-Nonce = nonce (random, new for every attempt)

`signed` is built from the callback URL and its fields, as Plivo does:
- base = scheme "://" netloc path of the URL (no query, no fragment).
- GET: the URL's own query parameters and the callback fields, merged, sorted by key (a key
  with several values: its values sorted), written `key=value` joined by "&", unencoded;
  signed = base + "?" + that (just base when there is nothing).
- POST: q = the URL's own query parameters written as for GET; signed = base + "?" + q +
  ("." if q else "") + the fields sorted by key written `keyvalue` with no separator.
  (A POST with no fields signs as a GET without fields.)

So the method decides how the fields enter the signed string (SPEC §4: "method + URL + sorted
form fields + nonce"). The same values also go out as X-Plivo-Signature-V3 and
X-Plivo-Signature-V3-Nonce.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from urllib.parse import parse_qs, urlsplit, urlunsplit


def _query_map(query: str) -> dict[str, list[str]]:
    return {k: list(v) for k, v in parse_qs(query, keep_blank_values=True).items()}


def _sorted_query(params: dict[str, list[str]]) -> str:
    return "&".join(f"{key}={value}" for key in sorted(params)
                    for value in sorted(params[key]))


def signed_string(method: str, url: str, fields: dict[str, str]) -> str:
    parts = urlsplit(url)
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    own = _query_map(parts.query)
    if method.upper() == "GET" or not fields:
        merged = dict(own)
        if method.upper() == "GET":
            for key, value in fields.items():
                merged[key] = merged.get(key, []) + [value]
        query = _sorted_query(merged)
        return f"{base}?{query}" if query else base
    query = _sorted_query(own)
    body = "".join(f"{key}{fields[key]}" for key in sorted(fields))
    return f"{base}?{query}{'.' if query else ''}{body}"


def sign(token: str, method: str, url: str, fields: dict[str, str],
         nonce: str | None = None) -> tuple[str, str]:
    """(signature, nonce) for one delivery attempt."""
    nonce = nonce or secrets.token_hex(16)
    message = f"{signed_string(method, url, fields)}.{nonce}".encode()
    digest = hmac.new(token.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode(), nonce


def headers(token: str, method: str, url: str, fields: dict[str, str]) -> dict[str, str]:
    signature, nonce = sign(token, method, url, fields)
    return {"X-Signature-V3": signature, "X-Signature-V3-Nonce": nonce,
            "X-Plivo-Signature-V3": signature, "X-Plivo-Signature-V3-Nonce": nonce}
