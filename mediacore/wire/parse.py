"""Parse server→engine messages (SPEC §3.2, §3.3) into events.

Contract: `parse_plivo` and `parse_twilio` take one text message (str, or UTF-8 bytes) and
return an event, or None for an event name they do not know (ignored, as are extra keys).
Anything wrong with the message raises `WireProtocolError` whose reason names the problem;
no other exception escapes, whatever the input (fuzzed in tests/wire).
"""

from __future__ import annotations

import binascii
import json
from typing import Any

from mediacore.codec import ByteOrder, Format
from mediacore.wire.errors import CLOSE_MESSAGE_TOO_BIG, WireProtocolError
from mediacore.wire.events import (Checkpoint, Clear, ClearAudio, Mark, PlayAudio, SendDtmf,
                                   ServerEvent, Stop)

__all__ = ["DTMF_DIGITS", "MAX_DTMF_DIGITS", "MAX_MESSAGE_BYTES", "MAX_NAME_CHARS",
           "parse_plivo", "parse_twilio"]

MAX_MESSAGE_BYTES = 1 << 20  # SPEC §3.2: a bigger message closes the connection with 1009
DTMF_DIGITS = frozenset("0123456789*#ABCD")
# Where SPEC §3.2 is silent: a checkpoint (mark) name is held until played and echoed back,
# and up to 10,000 may be pending, so a name is at most 1,024 characters (a 1 MiB name
# would let one server hold 10 GB); a sendDTMF message plays at most 128 digits (about
# 25 s of tones), not a 10 KB string.
MAX_NAME_CHARS = 1024
MAX_DTMF_DIGITS = 128


def _load(data: str | bytes | bytearray | memoryview) -> dict[str, Any]:
    """The message as a JSON object, after the size limit."""
    if isinstance(data, str):
        # a str of n characters is at most 4n UTF-8 bytes: encode only when it could be over
        size = len(data.encode("utf-8", "surrogatepass")) if len(data) * 4 > MAX_MESSAGE_BYTES \
            else len(data)
    elif isinstance(data, (bytes, bytearray, memoryview)):
        size = memoryview(data).nbytes
    else:
        raise WireProtocolError(f"a message must be text, not {type(data).__name__}")
    if size > MAX_MESSAGE_BYTES:
        raise WireProtocolError(f"message of {size} bytes is over the limit of "
                                f"{MAX_MESSAGE_BYTES} bytes (1 MiB)",
                                close_code=CLOSE_MESSAGE_TOO_BIG)
    try:
        text = data if isinstance(data, str) else bytes(data).decode("utf-8")
        message = json.loads(text)
    except UnicodeDecodeError as exc:
        raise WireProtocolError(f"invalid JSON: the message is not UTF-8 ({exc.reason} at "
                                f"byte {exc.start})") from None
    except RecursionError:
        raise WireProtocolError("invalid JSON: nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, and int strings over Python's digit limit
        raise WireProtocolError(f"invalid JSON: {exc}") from None
    if not isinstance(message, dict):
        raise WireProtocolError(f"a message must be a JSON object, not "
                                f"{_json_type(message)}")
    return message


def _json_type(value: object) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            int: "a number", float: "a number", type(None): "null"}.get(type(value), "?")


def _event_name(message: dict[str, Any]) -> str:
    if "event" not in message:
        raise WireProtocolError('missing field "event"')
    event = message["event"]
    if not isinstance(event, str):
        raise WireProtocolError(f'field "event" must be a string, not {_json_type(event)}')
    return event


_KINDS = {
    # what a field must be, as (check, words for the error)
    "object": (lambda v: isinstance(v, dict), "an object"),
    "string": (lambda v: isinstance(v, str), "a string"),
    "rate": (lambda v: isinstance(v, (int, float, str)) and not isinstance(v, bool),
             "a number or a numeric string"),
}


def _get(obj: dict[str, Any], key: str, kind: str, event: str, path: str = "") -> Any:
    """obj[key], which must exist and be of `kind` (a key of _KINDS)."""
    where = f"{path}.{key}" if path else key
    if key not in obj:
        raise WireProtocolError(f'{event}: missing field "{where}"')
    value = obj[key]
    check, want = _KINDS[kind]
    if not check(value):
        raise WireProtocolError(f'{event}: field "{where}" must be {want}, not '
                                f"{_json_type(value)}")
    return value


def _name(obj: dict[str, Any], key: str, event: str, path: str = "") -> str:
    """A checkpoint or mark name: a string of at most MAX_NAME_CHARS characters."""
    name = _get(obj, key, "string", event, path)
    if len(name) > MAX_NAME_CHARS:
        where = f"{path}.{key}" if path else key
        raise WireProtocolError(f'{event}: field "{where}" is a name of {len(name)} '
                                f"characters; a name has at most {MAX_NAME_CHARS}")
    return name


def _optional_str(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return value if isinstance(value, str) else None


def _payload(media: dict[str, Any], fmt: Format, event: str) -> bytes:
    text = _get(media, "payload", "string", event, "media")
    try:
        payload = binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise WireProtocolError(f"{event}: payload is not valid base64 ({exc})") from None
    if payload[:4] == b"RIFF" and payload[8:12] == b"WAVE":
        raise WireProtocolError(f"{event}: payload is a WAV file (RIFF header); send raw "
                                f"{fmt.value} samples without a header")
    if fmt.bytes_per_sample == 2 and len(payload) & 1:
        raise WireProtocolError(f"{event}: L16 payload has an odd number of bytes "
                                f"({len(payload)}); samples are 2 bytes each")
    return payload


def _play_audio_format(media: dict[str, Any], event: str) -> Format:
    content_type = _get(media, "contentType", "string", event, "media")
    try:
        if ";" in content_type:  # "audio/x-l16;rate=16000": the rate may come with the type
            fmt = Format.parse(content_type)
            if "sampleRate" in media:
                rate = _get(media, "sampleRate", "rate", event, "media")
                if Format.from_parts(fmt.encoding, rate) is not fmt:
                    raise ValueError(f"sampleRate {rate!r} contradicts content type "
                                     f"{content_type!r}")
            return fmt
        rate = _get(media, "sampleRate", "rate", event, "media")
        return Format.from_parts(content_type, rate)
    except WireProtocolError:
        raise
    except (ValueError, OverflowError) as exc:
        raise WireProtocolError(f"{event}: {exc}") from None


def parse_plivo(data: str | bytes, *, byte_order: ByteOrder = ByteOrder.LE) -> ServerEvent | None:
    """One plivo server→engine message as an event (None: an event this profile ignores).
    L16 payloads are taken to be in the stream's `byte_order` (SPEC §2.1 l16_byte_order)."""
    message = _load(data)
    event = _event_name(message)
    if event == "playAudio":
        media = _get(message, "media", "object", event)
        fmt = _play_audio_format(media, event)
        return PlayAudio(_payload(media, fmt, event), fmt, byte_order)
    if event == "checkpoint":
        name = _name(message, "name", event)
        return Checkpoint(name, _optional_str(message, "streamId"))
    if event == "clearAudio":
        return ClearAudio(_optional_str(message, "streamId"))
    if event == "sendDTMF":
        digits = _get(message, "dtmf", "string", event)
        if not digits:
            raise WireProtocolError('sendDTMF: field "dtmf" is empty; expected digits '
                                    "0-9, *, #, A-D")
        if len(digits) > MAX_DTMF_DIGITS:
            raise WireProtocolError(f'sendDTMF: field "dtmf" has {len(digits)} digits; a '
                                    f"message plays at most {MAX_DTMF_DIGITS}")
        for digit in digits:
            if digit.upper() not in DTMF_DIGITS:
                raise WireProtocolError(f"sendDTMF: bad DTMF digit {digit!r} in {digits!r}; "
                                        f"expected 0-9, *, #, A-D")
        return SendDtmf(digits.upper())
    if event == "stop":
        return Stop(_optional_str(message, "streamId"))
    return None


def parse_twilio(data: str | bytes) -> ServerEvent | None:
    """One twilio server→engine message as an event (None: an event this profile ignores).
    A `media` payload is μ-law 8 kHz (Twilio Media Streams carry nothing else)."""
    message = _load(data)
    event = _event_name(message)
    if event == "media":
        media = _get(message, "media", "object", event)
        return PlayAudio(_payload(media, Format.MULAW_8K, event), Format.MULAW_8K)
    if event == "mark":
        mark = _get(message, "mark", "object", event)
        return Mark(_name(mark, "name", event, "mark"))
    if event == "clear":
        return Clear()
    return None
