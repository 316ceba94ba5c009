"""The form fields of each status callback (SPEC §4), built from a stream's store row.

Common fields: Event, Status, CallUUID, StreamID, ParentAuthID, ServiceURL, From, To,
Timestamp (UTC `YYYY-MM-DD HH:MM:SS`, when the event happened), Error ("" when none).
Every value is a string (the form and query encodings carry nothing else).
"""

from __future__ import annotations

import datetime as dt

# the ending event and its callback status, by the stream's final status
ENDINGS = {"stopped": ("StopStream", "stopped"), "timeout": ("StreamTimeout", "timeout"),
           "failed": ("FailedStream", "failed")}


def timestamp(at_us: int) -> str:
    return dt.datetime.fromtimestamp(at_us / 1e6, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _common(row: dict, event: str, status: str, at_us: int, error: str = "") -> dict:
    return {"Event": event, "Status": status, "CallUUID": row["call_uuid"],
            "StreamID": row["stream_id"], "ParentAuthID": row["account_id"],
            "ServiceURL": row["service_url"], "From": row.get("call_from") or "",
            "To": row.get("call_to") or "", "Timestamp": timestamp(at_us), "Error": error}


def started(row: dict, at_us: int) -> dict:
    return _common(row, "StartStream", "connected", at_us)


def ended(row: dict) -> dict:
    """StopStream, StreamTimeout or FailedStream, from the final row (status, stop_reason,
    error, end_time_us and the bill columns)."""
    event, status = ENDINGS[row["status"]]
    fields = _common(row, event, status, row["end_time_us"], row.get("error") or "")
    fields.update(StopReason=row["stop_reason"] or "", BillDuration=str(row["bill_duration"]),
                  BilledAmount=row["billed_amount"])
    return fields


def degraded(row: dict, at_us: int, buffer_percent: int) -> dict:
    fields = _common(row, "DegradedStream", "degraded", at_us)
    fields["BufferPercent"] = str(buffer_percent)
    return fields


def played(row: dict, at_us: int, name: str) -> dict:
    fields = _common(row, "PlayedStream", "played", at_us)
    fields["Name"] = name
    return fields


def cleared(row: dict, at_us: int) -> dict:
    return _common(row, "ClearedAudio", "cleared", at_us)
