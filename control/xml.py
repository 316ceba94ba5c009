"""Stream XML (SPEC §5): `<Response><Stream ...>wss://host/path</Stream></Response>`.

`parse_response(text, strict=True)` returns one REST field dict per `<Stream>` (attribute names
mapped to the REST field names, values left as strings: the control plane validates them
exactly as it validates `POST Stream/`). Parsing goes through defusedxml with DTDs forbidden:
a `<!DOCTYPE>` (and with it every entity declaration, the "billion laughs" expansion, and
every external entity or DTD) is refused with `XmlError`, which the API answers with 400.

Unknown elements (and unknown attributes of `<Stream>`) raise `XmlError` when `strict` (XML
posted to `Call/{uuid}/Xml/`); otherwise (XML from an answer_url) they are skipped with a
logged warning and the rest is executed.

`keepCallAlive` is validated (true/false) and then dropped: in mediacore a call lives as long
as its ingress (the telephony stack) keeps it, so there is nothing to keep alive.

`fetch_answer_xml(url, ...)` fetches an answer_url once with httpx and parses it leniently;
the control plane calls it when a call is registered with `answer_url`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree as SafeET
import httpx

log = logging.getLogger("control.xml")

# XML attribute -> REST field (SPEC §2.1); keepCallAlive has no REST field (see above)
ATTRIBUTES: Mapping[str, str] = {
    "bidirectional": "bidirectional",
    "audioTrack": "audio_track",
    "streamTimeout": "stream_timeout",
    "statusCallbackUrl": "status_callback_url",
    "statusCallbackMethod": "status_callback_method",
    "contentType": "content_type",
    "extraHeaders": "extra_headers",
    "protocol": "protocol",
    "maxRetries": "max_retries",
}
KEEP_CALL_ALIVE = "keepCallAlive"
MAX_ANSWER_BYTES = 64 * 1024
ANSWER_TIMEOUT_S = 10.0


class XmlError(ValueError):
    """The XML cannot be executed; the message is one sentence naming the problem."""


def parse_response(text: str | bytes, *, strict: bool = True) -> list[dict[str, Any]]:
    """The `<Stream>` elements of a `<Response>` document as REST field dicts, in order."""
    root = _parse(text)
    if _local(root.tag) != "Response":
        raise XmlError(f"The XML document's root element must be <Response>, not "
                       f"<{_local(root.tag)}>.")
    streams = []
    for child in root:
        name = _local(child.tag)
        if name != "Stream":
            _unknown(strict, f"<Response> holds an element mediacore does not know: <{name}>.")
            continue
        fields = _stream(child, strict)
        if fields is not None:
            streams.append(fields)
    return streams


def _parse(text: str | bytes) -> Element:
    try:
        return SafeET.fromstring(text, forbid_dtd=True)
    except defusedxml.DTDForbidden:
        raise XmlError("The XML carries a document type declaration (<!DOCTYPE>): DTDs, entity "
                       "declarations and external entities are refused; send plain <Response> "
                       "XML.") from None
    except defusedxml.EntitiesForbidden:
        raise XmlError("The XML declares entities, which are refused (entity expansion is "
                       "not allowed); send plain <Response> XML.") from None
    except defusedxml.ExternalReferenceForbidden:
        raise XmlError("The XML refers to an external entity or DTD, which is refused; send "
                       "plain <Response> XML.") from None
    except defusedxml.DefusedXmlException as exc:
        raise XmlError(f"The XML is refused: {exc}.") from None
    except ParseError as exc:
        raise XmlError(f"The body is not well-formed XML ({exc}).") from None


def _stream(element: Element, strict: bool) -> dict[str, Any] | None:
    if len(element):
        problem = (f"<Stream> must hold only the WebSocket URL as text, not "
                   f"<{_local(element[0].tag)}>.")
        if strict:
            raise XmlError(problem)
        log.warning("answer_url XML: %s Skipping this <Stream>.", problem)
        return None
    fields: dict[str, Any] = {}
    for attribute, value in element.attrib.items():
        name = _local(attribute)
        if name == KEEP_CALL_ALIVE:
            if value.strip().lower() not in ("true", "false"):
                raise XmlError(f"keepCallAlive must be true or false, not {value!r}.")
            continue
        field = ATTRIBUTES.get(name)
        if field is None:
            _unknown(strict, f"<Stream> has an attribute mediacore does not know: {name}.")
            continue
        fields[field] = value
    url = (element.text or "").strip()
    if not url:
        raise XmlError("<Stream> must hold the WebSocket URL (wss://...) as its text.")
    fields["service_url"] = url
    return fields


def _unknown(strict: bool, problem: str) -> None:
    if strict:
        raise XmlError(problem)
    log.warning("answer_url XML: %s Skipped.", problem)


def _local(tag: str) -> str:
    """An element or attribute name without its namespace."""
    return tag.rsplit("}", 1)[-1]


async def fetch_answer_xml(url: str, *, call_fields: Mapping[str, str] | None = None,
                           client: httpx.AsyncClient | None = None,
                           timeout_s: float = ANSWER_TIMEOUT_S) -> list[dict[str, Any]]:
    """Fetch an answer_url once (POST, form-encoded call fields, like Plivo's answer_url) and
    parse its `<Response>` leniently. Raises XmlError when the URL cannot be fetched, does not
    answer 2xx, answers more than 64 KiB or answers XML that cannot be parsed. The caller
    checks the URL against its address policy before calling."""
    owned = client is None
    client = client or httpx.AsyncClient(timeout=timeout_s, follow_redirects=False)
    try:
        try:
            async with client.stream("POST", url, data=dict(call_fields or {})) as response:
                if not 200 <= response.status_code < 300:
                    raise XmlError(f"answer_url answered HTTP {response.status_code}.")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_ANSWER_BYTES:
                        raise XmlError(f"answer_url answered more than {MAX_ANSWER_BYTES} "
                                       f"bytes.")
        except httpx.HTTPError as exc:
            raise XmlError(f"answer_url could not be fetched ({type(exc).__name__}: "
                           f"{exc}).") from None
    finally:
        if owned:
            await client.aclose()
    return parse_response(bytes(body), strict=False)
