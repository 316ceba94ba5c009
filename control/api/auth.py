"""Authentication (SPEC §2): `X-Auth-ID` + `X-Auth-Token` headers, or HTTP Basic
`auth_id:auth_token`. Wrong or missing credentials: 401. Valid credentials for another
account than the path's `{auth_id}`: 404, exactly as for a resource that does not exist, so
the answer never reveals whether that account exists. The token check itself (hashed tokens,
constant-time comparison) is the control plane's `authenticate`.
"""

from __future__ import annotations

import base64
import binascii

from starlette.requests import Request

from control.api.errors import ApiError

NOT_FOUND_SENTENCE = "No such resource: check the path (base /v1/Account/{auth_id}/)."
_CHALLENGE = {"WWW-Authenticate": 'Basic realm="mediacore"'}


def unauthorized(message: str) -> ApiError:
    return ApiError(401, message, headers=_CHALLENGE)


def credentials(request: Request) -> tuple[str, str]:
    """The (auth_id, auth_token) a request presents; 401 when it presents none usable."""
    auth_id = request.headers.get("x-auth-id")
    token = request.headers.get("x-auth-token")
    if auth_id is not None or token is not None:
        if not auth_id or not token:
            raise unauthorized("Send both X-Auth-ID and X-Auth-Token (or HTTP Basic "
                               "auth_id:auth_token).")
        return auth_id, token
    header = request.headers.get("authorization")
    if header is None:
        raise unauthorized("Authentication required: send X-Auth-ID and X-Auth-Token headers, "
                           "or HTTP Basic auth_id:auth_token.")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        raise unauthorized("Only HTTP Basic authorization (or X-Auth-ID / X-Auth-Token) is "
                           "accepted.")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise unauthorized("The Basic authorization header is not valid base64 of "
                           "auth_id:auth_token.") from None
    auth_id, sep, token = decoded.partition(":")
    if not sep or not auth_id or not token:
        raise unauthorized("The Basic authorization header must hold auth_id:auth_token.")
    return auth_id, token


async def authenticate(request: Request, plane, path_auth_id: str):
    """The Account the request acts as; 401 / 404 as SPEC §2 says."""
    auth_id, token = credentials(request)
    account = await plane.authenticate(auth_id, token)
    if account is None:
        raise unauthorized("Wrong auth id or auth token.")
    if account.auth_id != path_auth_id:
        raise ApiError(404, NOT_FOUND_SENTENCE)
    return account
