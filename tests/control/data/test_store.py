"""The store on SQLite and PostgreSQL: migrations, accounts, streams, paging, the outbox."""

from __future__ import annotations

import sqlalchemy
import trio

from control.store import LATEST, open_store
from control.store.migrations import current_version


def stream_row(stream_id: str, **overrides) -> dict:
    row = dict(stream_id=stream_id, call_uuid="call-1", account_id="MAAAAAAAAAAAAAAAAAAA",
               node_id="n1", service_url="wss://example.com/s", audio_track="inbound",
               bidirectional=False, content_type="audio/x-l16;rate=8000", sampling_rate=8000,
               protocol="plivo", stream_timeout=86400, status_callback_url=None,
               status_callback_method="POST", extra_headers=None, l16_byte_order="le",
               max_retries=0, status="initiated", created_at_us=1_000_000, rate="0.00300")
    row.update(overrides)
    return row


def test_migrations_create_the_schema_once_and_record_the_version(store_url):
    url, kwargs = store_url
    open_store(url, **kwargs).close_sync()
    store = open_store(url, **kwargs)  # a second open finds everything in place
    with store.engine.connect() as conn:
        assert current_version(conn) == LATEST
        names = set(sqlalchemy.inspect(conn).get_table_names())
        versions = conn.execute(sqlalchemy.text("SELECT count(*) FROM mediacore_schema")).scalar()
    store.close_sync()
    assert {"accounts", "calls", "streams", "callback_outbox", "mediacore_schema"} <= names
    assert versions == LATEST


def test_a_database_newer_than_the_code_is_refused(store_url):
    url, kwargs = store_url
    open_store(url, **kwargs).close_sync()
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text("INSERT INTO mediacore_schema VALUES (:v, 0)"),
                     {"v": LATEST + 1})
    engine.dispose()
    try:
        open_store(url, **kwargs)
    except RuntimeError as exc:
        assert f"schema version {LATEST + 1}" in str(exc)
    else:
        raise AssertionError("a newer schema was accepted")


def test_accounts_streams_paging_and_the_outbox_round_trip(store_url):
    url, kwargs = store_url
    store = open_store(url, **kwargs)

    async def main():
        sealed = store.tokens.seal("secret-token")
        await store.add_account({"auth_id": "MAAAAAAAAAAAAAAAAAAA", "token_hash": b"h" * 32,
                                 "token_sealed": sealed, "rate_per_minute": "0.00300",
                                 "created_at_us": 5})
        account = await store.get_account("MAAAAAAAAAAAAAAAAAAA")
        assert store.tokens.open(account["token_sealed"]) == "secret-token"
        assert await store.get_account("MABBBBBBBBBBBBBBBBBB") is None

        for i in range(5):
            await store.add_stream(stream_row(f"s{i}", created_at_us=1_000_000 + i,
                                              status="stopped" if i < 2 else "in-progress"))
        page, total = await store.list_streams("MAAAAAAAAAAAAAAAAAAA", "call-1", status=None,
                                               limit=2, offset=1)
        assert total == 5 and [r["stream_id"] for r in page] == ["s1", "s2"]
        page, total = await store.list_streams("MAAAAAAAAAAAAAAAAAAA", "call-1",
                                               status="stopped", limit=20, offset=0)
        assert total == 2 and [r["stream_id"] for r in page] == ["s0", "s1"]
        other, total = await store.list_streams("MABBBBBBBBBBBBBBBBBB", "call-1", status=None,
                                                limit=20, offset=0)
        assert (other, total) == ([], 0)
        assert {r["stream_id"] for r in await store.open_streams("n1")} == {"s2", "s3", "s4"}
        assert await store.open_streams("n2") == []

        # the checkpoint never rewrites an ended stream
        await store.checkpoint([("s0", {"forked_ms": 99}), ("s2", {"forked_ms": 12_000})])
        assert (await store.get_stream("s0"))["forked_ms"] == 0
        assert (await store.get_stream("s2"))["forked_ms"] == 12_000

        # a stream's end and its callback are one transaction; rows come back in order
        fields = {"Event": "StopStream", "StreamID": "s2"}
        await store.update_stream("s2", {"status": "stopped", "end_time_us": 9},
                                  [dict(callback_id="c1", stream_id="s2", account_id="MA",
                                        node_id="n1", url="http://x/", method="POST",
                                        fields=fields, created_at_us=9)])
        await store.add_callbacks([dict(callback_id=f"c{i}", stream_id="s3" if i % 2 else "s2",
                                        account_id="MA", node_id="n1", url="http://x/",
                                        method="GET", fields={"N": str(i)}, created_at_us=i)
                                   for i in range(2, 6)])
        assert await store.streams_with_pending_callbacks("n1") == ["s2", "s3"]
        head = await store.next_callback("n1", "s2")
        assert head["callback_id"] == "c1" and head["fields"] == fields
        await store.callback_done(head["id"], delivered=True, attempts=1, at_us=10)
        assert (await store.next_callback("n1", "s2"))["callback_id"] == "c2"
        assert await store.pending_callbacks("n1") == 4
        assert [r["status"] for r in await store.callbacks(stream_id="s2")] == \
            ["delivered", "pending", "pending"]
        await store.close()

    trio.run(main)
