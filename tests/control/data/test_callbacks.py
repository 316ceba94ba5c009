"""The callback sender against a real HTTP receiver on MockClock: order per stream, retries
with a stable X-Callback-ID, no retry on 4xx, Retry-After, giving up, address rules, and V3
signatures checked the way a receiver using Plivo's SDK checks them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
from urllib.parse import parse_qs, urlsplit

import trio
import trio.testing

from control.callbacks.sender import CallbackSender
from control.callbacks.signature import signed_string
from control.store import open_store
from mediacore.engine import UrlPolicy
from tests.control.data.receiver import Receiver

LOOPBACK = UrlPolicy.allowing("127.0.0.0/8")
TOKEN = "T" * 40


def plivo_v3_valid(method: str, uri: str, nonce: str, signature: str, params: dict) -> bool:
    """A receiver's check, after Plivo's published V3 algorithm (written from its
    description, not from our module): GET signs the full URL with its query sorted as
    key=value&...; POST signs the URL, '?', the URL's own sorted query ('.' after it if any),
    then the body fields sorted as keyvalue; then '.' + nonce; HMAC-SHA256, base64."""
    parts = urlsplit(uri)
    base = f"{parts.scheme}://{parts.netloc}{parts.path}"
    query = parse_qs(parts.query, keep_blank_values=True)

    def sorted_query(q):
        return "&".join(f"{k}={v}" for k in sorted(q) for v in sorted(q[k]))
    if method == "GET":
        q = dict(query)
        for k, v in params.items():
            q.setdefault(k, []).append(v)
        text = base + ("?" + sorted_query(q) if q else "")
    elif params:
        own = sorted_query(query)
        text = base + "?" + own + ("." if own else "") + "".join(
            f"{k}{params[k]}" for k in sorted(params))
    else:
        text = base + ("?" + sorted_query(query) if query else "")
    digest = hmac.new(TOKEN.encode(), f"{text}.{nonce}".encode(), hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(digest).decode(), signature)


def callback(n: int, stream_id: str, url: str, method: str = "POST", at_us: int = 0) -> dict:
    return dict(callback_id=f"cb-{stream_id}-{n}", stream_id=stream_id, account_id="MA1",
                node_id="n1", url=url, method=method, created_at_us=at_us,
                fields={"Event": "PlayedStream", "StreamID": stream_id, "Name": f"mark {n}",
                        "Timestamp": "2024-01-15 10:30:00"})


async def with_sender(tmp_path, receiver, body, *, policy=LOOPBACK, retry_max_s=3600.0):
    store = open_store(f"sqlite:///{tmp_path / 'cb.db'}", threads=0)  # MockClock: no threads

    async def token_for(account_id):
        return TOKEN if account_id == "MA1" else None
    sender = CallbackSender(store, node_id="n1", policy=policy, token_for=token_for,
                            now_us=lambda: int(trio.current_time() * 1e6),
                            retry_max_s=retry_max_s, rng=random.Random(7))
    async with trio.open_nursery() as nursery:
        await nursery.start(receiver.serve)
        await nursery.start(sender.run)
        await body(store, sender)
        nursery.cancel_scope.cancel()
    await store.close()


def run(fn):
    trio.run(fn, clock=trio.testing.MockClock(autojump_threshold=0))


def test_callbacks_arrive_in_order_per_stream_with_valid_signatures(tmp_path):
    receiver = Receiver()

    async def body(store, sender):
        rows = [callback(n, sid, receiver.url("/cb?tenant=7&a=b c"),
                         method="GET" if n % 2 else "POST")
                for n in range(4) for sid in ("A", "B")]
        await store.add_callbacks(rows)
        sender.notify("A")
        sender.notify("B")
        await receiver.wait_for(8)
        await trio.sleep(1)  # the last delivered marks are written

        for sid in ("A", "B"):
            got = [r.headers["x-callback-id"] for r in receiver.requests
                   if r.fields["StreamID"] == sid]
            assert got == [f"cb-{sid}-{n}" for n in range(4)]
        for r in receiver.requests:
            uri = f"http://127.0.0.1:{receiver.port}{r.target}"
            params = {} if r.method == "GET" else r.fields
            if r.method == "POST":
                assert r.headers["content-type"] == "application/x-www-form-urlencoded"
                assert "tenant=7" in r.target
            assert plivo_v3_valid(r.method, uri, r.headers["x-signature-v3-nonce"],
                                  r.headers["x-signature-v3"], params), r
            assert r.headers["x-plivo-signature-v3"] == r.headers["x-signature-v3"]
            assert r.fields["Name"].startswith("mark ")
        nonces = {r.headers["x-signature-v3-nonce"] for r in receiver.requests}
        assert len(nonces) == 8
        assert [r["status"] for r in await store.callbacks()] == ["delivered"] * 8

    run(lambda: with_sender(tmp_path, receiver, body))


def test_signed_string_is_written_as_documented():
    fields = {"b": "2", "a": "1 x"}
    assert signed_string("POST", "https://h:8443/p", fields) == "https://h:8443/p?a1 xb2"
    assert signed_string("POST", "https://h/p?z=9&y=8", fields) == "https://h/p?y=8&z=9.a1 xb2"
    assert signed_string("GET", "https://h/p?z=9", fields) == "https://h/p?a=1 x&b=2&z=9"
    assert signed_string("GET", "https://h/p", {}) == "https://h/p"


def test_a_500_is_retried_with_the_same_callback_id_after_the_backoff(tmp_path):
    receiver = Receiver([500, 503, 200])

    async def body(store, sender):
        await store.add_callbacks([callback(0, "A", receiver.url()),
                                   callback(1, "A", receiver.url())])
        sender.notify("A")
        requests = await receiver.wait_for(4)
        ids = [r.headers["x-callback-id"] for r in requests]
        assert ids == ["cb-A-0", "cb-A-0", "cb-A-0", "cb-A-1"]  # the next waits its turn
        gaps = [b.at - a.at for a, b in zip(requests, requests[1:])]
        # attempt n waits 2^(n-1) s times a jitter factor in [0.5, 1]
        assert 0.5 <= gaps[0] <= 1.0 and 1.0 <= gaps[1] <= 2.0 and gaps[2] < 0.1
        assert len({r.headers["x-signature-v3-nonce"] for r in requests[:3]}) == 3
        await trio.sleep(1)
        first = (await store.callbacks())[0]
        assert (first["status"], first["attempts"]) == ("delivered", 3)

    run(lambda: with_sender(tmp_path, receiver, body))


def test_a_400_is_not_retried_and_the_stream_moves_on(tmp_path):
    receiver = Receiver([400, 404, (429, [("retry-after", "30")]), 408])

    async def body(store, sender):
        await store.add_callbacks([callback(n, "A", receiver.url()) for n in range(3)])
        sender.notify("A")
        requests = await receiver.wait_for(5)
        assert [r.headers["x-callback-id"] for r in requests] == \
            ["cb-A-0", "cb-A-1", "cb-A-2", "cb-A-2", "cb-A-2"]
        assert requests[3].at - requests[2].at >= 30  # Retry-After honoured
        await trio.sleep(1)
        rows = await store.callbacks()
        assert [(r["status"], r["attempts"]) for r in rows] == \
            [("failed", 1), ("failed", 1), ("delivered", 3)]
        assert rows[0]["last_error"] == "HTTP 400"

    run(lambda: with_sender(tmp_path, receiver, body))


def test_retries_stop_after_retry_max(tmp_path):
    receiver = Receiver([500] * 100)

    async def body(store, sender):
        await store.add_callbacks([callback(0, "A", receiver.url(), at_us=0)])
        sender.notify("A")
        await trio.sleep(200)
        rows = await store.callbacks()
        assert rows[0]["status"] == "failed" and "gave up after" in rows[0]["last_error"]
        assert len(receiver.requests) == rows[0]["attempts"]
        assert receiver.requests[-1].at <= 60

    run(lambda: with_sender(tmp_path, receiver, body, retry_max_s=60))


def test_a_refused_address_fails_at_once_without_a_request(tmp_path):
    receiver = Receiver()

    async def body(store, sender):
        await store.add_callbacks([callback(0, "A", receiver.url()),
                                   callback(1, "A", receiver.url())])
        sender.notify("A")
        await trio.sleep(5)
        rows = await store.callbacks()
        assert [r["status"] for r in rows] == ["failed", "failed"]
        assert "loopback" in rows[0]["last_error"] and receiver.requests == []

    run(lambda: with_sender(tmp_path, receiver, body, policy=UrlPolicy()))


def test_pending_callbacks_resume_when_the_sender_starts(tmp_path):
    receiver = Receiver()

    async def body(store, sender):
        requests = await receiver.wait_for(2)
        assert [r.headers["x-callback-id"] for r in requests] == ["cb-A-0", "cb-A-1"]

    async def main_with_port():  # rows written before the sender exists, to a known port
        async with trio.open_nursery() as nursery:
            await nursery.start(receiver.serve)
            store = open_store(f"sqlite:///{tmp_path / 'cb.db'}")
            await store.add_callbacks([callback(0, "A", receiver.url()),
                                       callback(1, "A", receiver.url())])
            await store.close()
            nursery.cancel_scope.cancel()
        await with_sender(tmp_path, receiver, body)

    run(main_with_port)
