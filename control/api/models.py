"""The API's documents as pydantic models: only for the OpenAPI description (`/openapi.json`).

Requests are parsed by `fields.py` (JSON or form, any method) and validated by the control
plane, so these models never validate a request; they describe what the API accepts and
answers, and `tests/control/api/test_openapi.py` checks the API against them with
schemathesis.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Boolean = bool | Literal["true", "false"]
Nothing = Literal[False, "", "false"] | None
StreamStatus = Literal["initiated", "in-progress", "stopped", "timeout", "failed"]
StopReason = Literal["api_request", "call_hangup", "stream_timeout", "connection_error",
                     "slow_consumer", "remote_close", "shutdown"]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorBody(BaseModel):
    api_id: str
    error: str = Field(description="One sentence a person can act on.")


class StartStream(_Closed):
    """Start parameters (SPEC §2.1). Form bodies carry the same names with string values."""

    service_url: str = Field(max_length=2048, description="wss:// URL of your server")
    bidirectional: Boolean = False
    audio_track: Literal["inbound", "outbound", "both"] = "inbound"
    stream_timeout: int | str = Field(86400, description="seconds, 1 to 86400")
    status_callback_url: str | None = None
    status_callback_method: Literal["GET", "POST"] = "POST"
    content_type: str = Field("audio/x-l16;rate=8000",
                              description="audio/x-l16;rate=8000, audio/x-l16;rate=16000 or "
                                          "audio/x-mulaw;rate=8000")
    extra_headers: str | None = Field(None, description="k=v,k=v (at most 512 bytes)")
    protocol: Literal["plivo", "twilio"] = "plivo"
    l16_byte_order: Literal["le", "be"] = "le"
    max_retries: int | str = Field(0, description="0 to 10")
    call_uuid: str | None = Field(None, description="accepted when it equals the path's")
    noise_cancellation: Nothing = None
    noise_cancellation_level: Nothing = None
    cx_bot: Nothing = None


class PathEcho(_Closed):
    """A body any method may carry: only fields that repeat the path's values."""

    call_uuid: str | None = None
    stream_id: str | None = None


class StreamStarted(BaseModel):
    api_id: str
    message: Literal["audio streaming started"]
    stream_id: str


class StreamObject(_Open):
    """The Stream object (SPEC §2.2)."""

    api_id: str
    stream_id: str
    call_uuid: str
    account_id: str
    service_url: str
    audio_track: str
    bidirectional: bool
    content_type: str
    sampling_rate: int
    protocol: str
    stream_timeout: int
    status_callback_url: str | None
    status_callback_method: str
    extra_headers: str | None
    status: StreamStatus
    stop_reason: StopReason | None
    created_at: str
    start_time: str | None
    end_time: str | None
    bill_duration: int
    rounded_bill_duration: int
    billed_amount: str
    rate: str
    frames_sent: int
    frames_dropped: int
    reconnects: int
    resource_uri: str


class Meta(BaseModel):
    limit: int
    offset: int
    total_count: int
    next: str | None
    previous: str | None


class StreamList(BaseModel):
    api_id: str
    meta: Meta
    objects: list[dict[str, Any]]


class RegisterCall(BaseModel):
    """SPEC §2.3: how audio gets in."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    call_uuid: str | None = None
    from_: str | None = Field(None, alias="from")
    to: str | None = None
    ingress: Literal["rtp", "audiosocket"]
    codec: Literal["PCMU", "L16"] = "PCMU"
    sample_rate: int | str = Field(8000, description="8000 or 16000")
    rtp_remote: str | None = Field(None, description="host:port where playback RTP is sent")
    answer_url: str | None = None
    hangup_url: str | None = None


class CallObject(_Open):
    api_id: str
    call_uuid: str


class CallList(BaseModel):
    api_id: str
    meta: Meta
    objects: list[dict[str, Any]]
    calls: list[str]  # every live call's uuid (Plivo's live-call list shape)


class XmlExecuted(BaseModel):
    api_id: str
    message: Literal["XML executed"]
    stream_ids: list[str]


class Usage(_Open):
    api_id: str
    streams: int
    bill_duration: int
    rounded_bill_duration: int
    billed_amount: str


class Health(BaseModel):
    status: Literal["ok", "draining"]
    active_calls: int
    active_streams: int
