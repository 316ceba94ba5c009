"""The parser never raises anything but WireProtocolError: Hypothesis over raw bytes, over
JSON shaped like the protocol, and over mutations of valid messages; plus a short bounded
atheris run when atheris is installed."""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import subprocess
import pathlib
import sys

import pytest
from hypothesis import given, settings, strategies as st

from mediacore.wire import WireProtocolError, events, parse_plivo, parse_twilio

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
EVENTS = ["playAudio", "checkpoint", "clearAudio", "sendDTMF", "stop", "media", "mark", "clear",
          "start", "x"]
EVENT_TYPES = tuple(getattr(events, name) for name in events.__all__ if name != "ServerEvent")


def parse_all(data):
    """Both parsers on `data`: each returns an event or None, or raises WireProtocolError."""
    for parse in (parse_plivo, parse_twilio):
        try:
            result = parse(data)
        except WireProtocolError as exc:
            assert exc.reason and str(exc) == exc.reason
            continue
        assert result is None or isinstance(result, EVENT_TYPES)


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20),
                         st.sampled_from(["audio/x-l16", "audio/x-mulaw", "8000", "16000",
                                          "audio/x-l16;rate=16000", "AAAA", "UklGRg==", "#"]))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=12)
media = st.fixed_dictionaries({}, optional={
    "contentType": st.one_of(st.sampled_from(["audio/x-l16", "audio/x-mulaw", "audio/x-l16; rate=8000"]),
                             json_values),
    "sampleRate": st.one_of(st.sampled_from([8000, 16000, "8000", "16000", 8000.0, 44100]),
                            json_values),
    "payload": st.one_of(st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode()),
                         json_values),
})
messages = st.fixed_dictionaries({}, optional={
    "event": st.one_of(st.sampled_from(EVENTS), json_values),
    "media": st.one_of(media, json_values),
    "mark": st.one_of(st.fixed_dictionaries({}, optional={"name": json_values}), json_values),
    "name": json_values, "dtmf": st.one_of(st.text("0123456789*#ABCDabcdxyz", max_size=6),
                                           json_values),
    "streamId": json_values,
})


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_random_bytes(data):
    parse_all(data)


@settings(max_examples=300)
@given(st.text(max_size=300))
def test_random_text(data):
    parse_all(data)


@settings(max_examples=500)
@given(messages)
def test_protocol_shaped_json(message):
    parse_all(json.dumps(message))
    parse_all(json.dumps(message).encode())


@settings(max_examples=300)
@given(messages, st.data())
def test_truncated_and_corrupted_messages(message, data):
    text = json.dumps(message).encode()
    cut = data.draw(st.integers(0, len(text)))
    parse_all(text[:cut])
    if text:
        i = data.draw(st.integers(0, len(text) - 1))
        parse_all(text[:i] + bytes([data.draw(st.integers(0, 255))]) + text[i + 1:])


@pytest.mark.skipif(importlib.util.find_spec("atheris") is None, reason="atheris not installed")
def test_atheris_bounded_run(tmp_path):
    """A short coverage-guided session (a few seconds); longer ones: see fuzz_parse.py."""
    runs = os.environ.get("MEDIACORE_FUZZ_RUNS", "50000")
    corpus = tmp_path / "corpus"
    proc = subprocess.run(
        [sys.executable, "-m", "tests.wire.fuzz_parse", f"-runs={runs}", "-max_len=512",
         "-seed=1", f"-artifact_prefix={tmp_path}/", str(corpus)],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Done" in proc.stderr, proc.stderr[-3000:]
