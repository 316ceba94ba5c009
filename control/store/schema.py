"""The tables (SQLAlchemy Core), as of the newest migration (migrations.py).

Portable choices: times are integers of microseconds since the Unix epoch (UTC), exact and
ordered on every database (SQLite has no time zones); money and rates are decimal strings
("0.00300"), exact without a NUMERIC round trip (SQLite would hold them as floats).
"""

from __future__ import annotations

from sqlalchemy import (BigInteger, Boolean, Column, Index, Integer, LargeBinary, MetaData,
                        String, Table, Text)

metadata = MetaData()

schema_version = Table(
    "mediacore_schema", metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("applied_at_us", BigInteger, nullable=False),
)

accounts = Table(
    "accounts", metadata,
    Column("auth_id", String(20), primary_key=True),
    Column("token_hash", LargeBinary(32), nullable=False),    # SHA-256 of the token
    Column("token_sealed", LargeBinary, nullable=False),     # Fernet(token), server secret
    Column("rate_per_minute", String(24), nullable=False),   # decimal string, 5 places
    Column("created_at_us", BigInteger, nullable=False),
)

calls = Table(
    "calls", metadata,
    Column("call_uuid", String(64), primary_key=True),
    Column("account_id", String(20), nullable=False),
    Column("node_id", String(64), nullable=False),
    Column("call_from", String(128), nullable=False, default=""),
    Column("call_to", String(128), nullable=False, default=""),
    Column("ingress", String(16), nullable=False),          # rtp, audiosocket, embedded
    Column("codec", String(8), nullable=False),
    Column("sample_rate", Integer, nullable=False),
    Column("status", String(16), nullable=False),           # live, ended
    Column("details", Text, nullable=False, default="{}"),  # JSON: ports, urls
    Column("created_at_us", BigInteger, nullable=False),
    Column("ended_at_us", BigInteger),
    Column("end_reason", String(64)),
    Index("calls_by_account", "account_id", "status"),
)

streams = Table(
    "streams", metadata,
    Column("stream_id", String(64), primary_key=True),
    Column("call_uuid", String(64), nullable=False),
    Column("account_id", String(20), nullable=False),
    Column("node_id", String(64), nullable=False),          # the process that runs it
    Column("call_from", String(128), nullable=False, default=""),
    Column("call_to", String(128), nullable=False, default=""),
    # parameters (SPEC §2.1)
    Column("service_url", String(2048), nullable=False),
    Column("audio_track", String(8), nullable=False),
    Column("bidirectional", Boolean, nullable=False),
    Column("content_type", String(32), nullable=False),
    Column("sampling_rate", Integer, nullable=False),
    Column("protocol", String(8), nullable=False),
    Column("stream_timeout", Integer, nullable=False),
    Column("status_callback_url", String(2048)),
    Column("status_callback_method", String(4), nullable=False),
    Column("extra_headers", String(512)),
    Column("l16_byte_order", String(2), nullable=False),
    Column("max_retries", Integer, nullable=False),
    # lifecycle (SPEC §2.2)
    Column("status", String(16), nullable=False),
    Column("stop_reason", String(32)),
    Column("error", Text, nullable=False, default=""),
    Column("created_at_us", BigInteger, nullable=False),
    Column("start_time_us", BigInteger),
    Column("end_time_us", BigInteger),
    # metering: forked_ms as of checkpoint_us (the last checkpoint, or the end)
    Column("forked_ms", BigInteger, nullable=False, default=0),
    Column("checkpoint_us", BigInteger),
    Column("bill_duration", Integer, nullable=False, default=0),
    Column("rounded_bill_duration", Integer, nullable=False, default=0),
    Column("billed_amount", String(32), nullable=False, default="0.00000"),
    Column("rate", String(24), nullable=False),
    Column("frames_sent", BigInteger, nullable=False, default=0),
    Column("frames_dropped", BigInteger, nullable=False, default=0),
    Column("reconnects", Integer, nullable=False, default=0),
    Index("streams_by_call", "account_id", "call_uuid", "created_at_us"),
    Index("streams_open", "node_id", "status"),
    Index("streams_by_end", "account_id", "end_time_us"),
)

# the status callback outbox (SPEC §4): one row per callback, written before it is sent
outbox = Table(
    "callback_outbox", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),   # order of writing
    Column("callback_id", String(36), nullable=False, unique=True),  # X-Callback-ID
    Column("stream_id", String(64), nullable=False),
    Column("account_id", String(20), nullable=False),
    Column("node_id", String(64), nullable=False),
    Column("url", String(2048), nullable=False),
    Column("method", String(4), nullable=False),
    Column("fields", Text, nullable=False),                  # JSON object of str -> str
    Column("created_at_us", BigInteger, nullable=False),
    Column("status", String(10), nullable=False),            # pending, delivered, failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=False, default=""),
    Column("done_at_us", BigInteger),
    Index("outbox_pending", "node_id", "status", "stream_id", "id"),
)
