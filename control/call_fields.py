"""The fields of `POST Call/` (SPEC §2.3), checked, and the hangup_url notification.

Defaults where the SPEC is silent: `ingress` rtp; `codec` PCMU for RTP and L16 for
AudioSocket (Asterisk's signed linear; AudioSocket carries nothing else); `sample_rate` 8000
(PCMU is 8 kHz only); `from`/`to` up to 128 characters; `call_uuid` of letters, digits,
`.`, `_` and `-` (up to 64). The hangup_url gets a form POST like Plivo's hangup callback:
Event=Hangup, CallUUID, From, To, CallStatus=completed, HangupCause (why the call ended:
api_request, rtp_timeout, audiosocket_hangup, ...), StartTime, EndTime, Duration (whole
seconds), ParentAuthID.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from control.callbacks.fields import timestamp
from mediacore.engine import InvalidParameter
from mediacore.engine.url_syntax import host_problem

INGRESSES = ("rtp", "audiosocket")
CODECS = ("PCMU", "L16")
RATES = (8000, 16000)
MAX_PARTY_CHARS = 128
_CALL_UUID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_HOST_PORT = re.compile(r"(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^:\[\]\s]+)):(?P<port>\d{1,5})")
_FIELDS = ("call_uuid", "from", "to", "ingress", "codec", "sample_rate", "rtp_remote",
           "answer_url", "hangup_url")


def parse(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Checked values with defaults; InvalidParameter names the first bad field."""
    spec: dict[str, Any] = {}
    spec["call_uuid"] = _text(fields, "call_uuid", 64) or None
    if spec["call_uuid"] is not None and not _CALL_UUID.fullmatch(spec["call_uuid"]):
        raise InvalidParameter("call_uuid", "call_uuid may hold only letters, digits, '.', "
                                            "'_' and '-' (at most 64).")
    spec["from"] = _text(fields, "from", MAX_PARTY_CHARS)
    spec["to"] = _text(fields, "to", MAX_PARTY_CHARS)
    ingress = _text(fields, "ingress", 16) or "rtp"
    if ingress not in INGRESSES:
        raise InvalidParameter("ingress", f"ingress must be rtp or audiosocket, not {ingress!r}.")
    spec["ingress"] = ingress
    codec = _text(fields, "codec", 8) or ("PCMU" if ingress == "rtp" else "L16")
    if codec not in CODECS:
        raise InvalidParameter("codec", f"codec must be PCMU or L16, not {codec!r}.")
    if ingress == "audiosocket" and codec != "L16":
        raise InvalidParameter("codec", "AudioSocket carries signed linear audio: codec must "
                                        "be L16 for ingress audiosocket.")
    spec["codec"] = codec
    rate = fields.get("sample_rate", 8000)
    try:
        rate = int(str(rate).strip()) if not isinstance(rate, bool) else None
    except ValueError:
        rate = None
    if rate not in RATES:
        raise InvalidParameter("sample_rate", f"sample_rate must be 8000 or 16000, not "
                                              f"{fields.get('sample_rate')!r}.")
    if codec == "PCMU" and rate != 8000:
        raise InvalidParameter("sample_rate", "PCMU is 8000 Hz only: sample_rate must be 8000.")
    spec["sample_rate"] = rate
    remote = _text(fields, "rtp_remote", 300)
    spec["rtp_remote"] = None
    if remote:
        if ingress != "rtp":
            raise InvalidParameter("rtp_remote", "rtp_remote applies to ingress rtp only.")
        m = _HOST_PORT.fullmatch(remote)
        port = int(m.group("port")) if m else 0
        if not m or not 1 <= port <= 65535:
            raise InvalidParameter("rtp_remote", f"rtp_remote must be host:port (port "
                                                 f"1-65535), not {remote!r}.")
        host = m.group("v6") or m.group("host")
        problem = host_problem("rtp_remote", host)  # else the ingress's lookup raises
        if problem is not None:
            raise InvalidParameter("rtp_remote", problem)
        spec["rtp_remote"] = (host, port)
    spec["answer_url"] = _text(fields, "answer_url", 2048) or None
    spec["hangup_url"] = _text(fields, "hangup_url", 2048) or None
    return spec


def field_of(message: str) -> str:
    """The field an ingress error message is about (it names its parameter)."""
    for name in ("rtp_remote", "sample_rate", "codec", "payload_type", "call_uuid", "call_id"):
        if name in message:
            return "call_uuid" if name == "call_id" else name
    return "ingress"


def hangup(row: Mapping[str, Any], end_us: int, reason: str) -> dict[str, str]:
    start_us = row["created_at_us"]
    return {"Event": "Hangup", "CallUUID": row["call_uuid"], "From": row["call_from"],
            "To": row["call_to"], "CallStatus": "completed", "HangupCause": reason,
            "StartTime": timestamp(start_us), "EndTime": timestamp(end_us),
            "Duration": str(max(0, -(-(end_us - start_us) // 1_000_000))),
            "ParentAuthID": row["account_id"], "Timestamp": timestamp(end_us)}


def _text(fields: Mapping[str, Any], name: str, limit: int) -> str:
    value = fields.get(name)
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool) and name in ("from", "to"):
        value = str(value)  # a phone number sent as a JSON number
    if not isinstance(value, str):
        raise InvalidParameter(name, f"{name} must be a string.")
    value = value.strip()
    if len(value) > limit:
        raise InvalidParameter(name, f"{name} must be at most {limit} characters.")
    return value
