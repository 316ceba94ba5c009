"""The whole product path with real programs: `mediacore serve` as a process, a call
registered over the REST API (`POST Call/`, ingress rtp), ffmpeg sending a speech-like PCMU
RTP stream to the call's inbound port, a stream started over the REST API to a TLS
WebSocket server, and the audio that server receives compared with the source."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import time

import httpx
import numpy as np
import pytest

from mediacore.codec import ulaw_decode
from tests.control.test_daemon import Daemon, certs, recorder  # noqa: F401 (fixtures)
from tests.ingress.audio import framewise_snr, loud_frames, speech_like, write_wav
from tests.ingress.test_ffmpeg_peers import ffmpeg_send_command

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None and not os.environ.get("CI"),
                                reason="ffmpeg is not installed (.ci/run installs it)")


def test_rest_registered_rtp_call_streams_ffmpeg_audio_intact(tmp_path, certs, recorder):
    source = speech_like(3.0, seed=5)
    wav = tmp_path / "speech.wav"
    write_wav(wav, source)
    daemon = Daemon(tmp_path, certs)
    try:
        daemon.wait_for_output("First start: created an account")
        auth_id, token = daemon.first_account()
        base = f"/v1/Account/{auth_id}"
        with httpx.Client(base_url=daemon.url, auth=(auth_id, token), timeout=10) as http:
            call = http.post(f"{base}/Call/", data={"ingress": "rtp", "codec": "PCMU",
                                                   "from": "+15550100", "to": "+15550199"})
            assert call.status_code == 201, call.text
            call = call.json()
            started = http.post(f"{base}/Call/{call['call_uuid']}/Stream/", json={
                "service_url": f"wss://127.0.0.1:{recorder.port}/agent",
                "content_type": "audio/x-mulaw;rate=8000"})
            assert started.status_code == 202, started.text
            sent = subprocess.run(ffmpeg_send_command(wav, call["inbound_port"]),
                                  capture_output=True, text=True, timeout=60)
            assert sent.returncode == 0, sent.stderr
            time.sleep(0.5)
            assert http.delete(f"{base}/Call/{call['call_uuid']}/").status_code == 204
            stream_id = started.json()["stream_id"]
            deadline = time.monotonic() + 10
            while True:
                stream = http.get(f"{base}/Call/{call['call_uuid']}/Stream/{stream_id}/").json()
                if stream["status"] != "in-progress" or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
        assert daemon.terminate() == 0
    finally:
        if daemon.proc.poll() is None:
            daemon.proc.kill()
            daemon.close()
    assert (stream["status"], stream["stop_reason"]) == ("stopped", "call_hangup")
    conn = recorder.connections[0]
    assert conn.messages[0]["start"]["callId"] == call["call_uuid"]
    media = conn.events("media")
    chunks = [int(m["media"]["chunk"]) for m in media]
    assert chunks == list(range(1, len(chunks) + 1))                 # no frame missing
    stamps = [int(m["media"]["timestamp"]) for m in media]
    assert all(b > a for a, b in zip(stamps, stamps[1:]))            # monotonic
    assert stream["frames_sent"] == len(media)
    received = np.frombuffer(ulaw_decode(b"".join(
        base64.b64decode(m["media"]["payload"]) for m in media)), dtype="<i2")
    snr, matched, _ = framewise_snr(received, source)
    assert snr >= 30.0
    # every loud frame of the source came through, but for the few the jitter buffer may
    # drop while it trims its delay (as in tests/ingress/test_ffmpeg_peers.py)
    assert len(matched) >= len(loud_frames(source)) - 0.03 * len(source) // 160
    assert matched == sorted(set(matched))                           # in order, never twice
