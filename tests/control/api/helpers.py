"""Small helpers shared by the API tests."""

from __future__ import annotations

import time
import uuid

import httpx


def base(account, alias: bool = False) -> str:
    return f"{'/api' if alias else ''}/v1/Account/{account.auth_id}"


def assert_error(response: httpx.Response, status: int, *words: str) -> str:
    """An error in the SPEC's shape: exactly api_id + error, the error naming `words`."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"api_id", "error"}, body
    uuid.UUID(body["api_id"])
    for word in words:
        assert word in body["error"], body["error"]
    return body["error"]


def register_call(client: httpx.Client, account, **fields) -> dict:
    response = client.post(f"{base(account)}/Call/", headers=account.headers,
                           json={"ingress": "rtp", "codec": "PCMU", "sample_rate": 8000,
                                 "from": "+15550001", "to": "+15550002", **fields})
    assert response.status_code == 201, response.text
    return response.json()


def start(client: httpx.Client, account, call: str, url: str, **fields) -> str:
    response = client.post(f"{base(account)}/Call/{call}/Stream/", headers=account.headers,
                           json={"service_url": url, **fields})
    assert response.status_code == 202, response.text
    return response.json()["stream_id"]


def wait_for(predicate, timeout_s: float = 10.0, what: str = "condition"):
    """Poll a condition that a real server reaches on its own (a real socket, not a clock)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
