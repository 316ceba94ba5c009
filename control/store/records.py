"""Stream rows: from the engine's snapshot to the store's columns, and from a row to the
SPEC §2.2 Stream object (a JSON-ready dict; the HTTP layer adds `api_id`)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from control import metering

STREAM_FIELDS = ("stream_id", "call_uuid", "account_id", "service_url", "audio_track",
                 "bidirectional", "content_type", "sampling_rate", "protocol",
                 "stream_timeout", "status_callback_url", "status_callback_method",
                 "extra_headers", "status", "stop_reason", "created_at", "start_time",
                 "end_time", "bill_duration", "rounded_bill_duration", "billed_amount", "rate",
                 "frames_sent", "frames_dropped", "reconnects", "resource_uri")


def us(moment: dt.datetime | None) -> int | None:
    if moment is None:
        return None
    delta = moment - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def iso(at_us: int | None) -> str | None:
    if at_us is None:
        return None
    moment = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=at_us)
    return moment.isoformat(timespec="microseconds")


def new_row(stream, *, node_id: str, rate: Decimal) -> dict:
    """The row of a stream the engine has just registered (`stream`: its Stream snapshot)."""
    p = stream.params
    return dict(
        stream_id=stream.stream_id, call_uuid=stream.call_id, account_id=stream.account_id,
        node_id=node_id, call_from=stream.call_from, call_to=stream.call_to,
        service_url=p.service_url, audio_track=p.audio_track.value,
        bidirectional=p.bidirectional, content_type=p.content_type.value,
        sampling_rate=p.content_type.sample_rate, protocol=p.protocol.value,
        stream_timeout=p.stream_timeout, status_callback_url=p.status_callback_url,
        status_callback_method=p.status_callback_method.value,
        extra_headers=p.extra_headers, l16_byte_order=p.l16_byte_order.value,
        max_retries=p.max_retries, status=stream.status.value,
        stop_reason=stream.stop_reason.value if stream.stop_reason else None,
        error=stream.error, created_at_us=us(stream.created_at),
        start_time_us=us(stream.start_time), end_time_us=us(stream.end_time),
        forked_ms=0, checkpoint_us=us(stream.created_at),
        **metering.bill(0, rate).columns(),
        frames_sent=stream.frames_sent, frames_dropped=stream.frames_dropped,
        reconnects=stream.reconnects)


def stream_object(row: dict) -> dict:
    """The Stream object of SPEC §2.2 from a row (with live values merged in by the caller)."""
    obj = {name: row[name] for name in STREAM_FIELDS
           if name not in ("created_at", "start_time", "end_time", "resource_uri")}
    obj["bidirectional"] = bool(obj["bidirectional"])
    obj["created_at"] = iso(row["created_at_us"])
    obj["start_time"] = iso(row["start_time_us"])
    obj["end_time"] = iso(row["end_time_us"])
    obj["resource_uri"] = (f"/v1/Account/{row['account_id']}/Call/{row['call_uuid']}"
                           f"/Stream/{row['stream_id']}/")
    return obj
