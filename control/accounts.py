"""Accounts: Plivo-style auth ids, random auth tokens, and how the token is kept.

An auth id is `MA` + 18 uppercase letters and digits (Plivo's shape); an auth token is 40
random characters from letters and digits (~238 bits). The token is shown once, at creation.

Kept twice, for two different needs:
- `token_hash`: SHA-256 of the token, for authenticating requests. A plain fast hash is
  enough because the token is random and long (no dictionary to try, unlike a password);
  the check compares digests with `hmac.compare_digest` (constant time).
- `token_sealed`: the token encrypted with the server secret (Fernet: AES-128-CBC +
  HMAC-SHA256). Status callbacks and WebSocket upgrades are signed with HMAC keyed by the
  plaintext token (SPEC §3, §4), so the server must be able to recover it; a hash cannot
  serve. A copied database alone does not reveal tokens; the secret lives outside it (a file
  in the data directory, or the configuration; see control/store/__init__.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import secrets
import string
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from cryptography.fernet import Fernet, InvalidToken

AUTH_ID_PREFIX = "MA"
AUTH_ID_LENGTH = 20
TOKEN_LENGTH = 40
_ID_ALPHABET = string.ascii_uppercase + string.digits
_TOKEN_ALPHABET = string.ascii_letters + string.digits
RATE_PLACES = Decimal("0.00001")


@dataclasses.dataclass(frozen=True)
class Account:
    auth_id: str
    rate_per_minute: Decimal
    created_at: dt.datetime


def new_auth_id() -> str:
    return AUTH_ID_PREFIX + "".join(secrets.choice(_ID_ALPHABET)
                                    for _ in range(AUTH_ID_LENGTH - len(AUTH_ID_PREFIX)))


def new_token() -> str:
    return "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH))


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def token_matches(token: str, token_hash: bytes) -> bool:
    return hmac.compare_digest(hash_token(token), token_hash)


def looks_like_auth_id(value: str) -> bool:
    return (len(value) == AUTH_ID_LENGTH and value.startswith(AUTH_ID_PREFIX)
            and all(c in _ID_ALPHABET for c in value[len(AUTH_ID_PREFIX):]))


def rate(value: Decimal | str | int) -> Decimal:
    """A per-minute rate, quantized to 5 places; ValueError unless finite and >= 0."""
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"rate per minute must be a decimal number, not {value!r}") from None
    if not number.is_finite() or number < 0:
        raise ValueError(f"rate per minute must be a decimal number of at least 0, not {value!r}")
    return number.quantize(RATE_PLACES, rounding=ROUND_HALF_UP)


class TokenBox:
    """Seals and opens auth tokens with the server secret (a Fernet key)."""

    def __init__(self, secret: bytes) -> None:
        try:
            self._fernet = Fernet(secret)
        except (ValueError, TypeError):
            raise ValueError("the server secret must be a Fernet key (32 bytes, url-safe "
                             "base64), as Fernet.generate_key() makes") from None

    def seal(self, token: str) -> bytes:
        return self._fernet.encrypt(token.encode())

    def open(self, sealed: bytes) -> str:
        try:
            return self._fernet.decrypt(sealed).decode()
        except InvalidToken:
            raise ValueError("an auth token cannot be decrypted with this server secret "
                             "(was the secret replaced?)") from None
