"""The engine against an independent server implementation: the `websockets` package
(asyncio) in another process, over TLS, on the real clock."""

import base64
import json
import subprocess
import sys

import numpy as np
import trio

from mediacore.codec import Format
from tests.engine.helpers import engine_for


def test_a_websockets_server_in_another_process_receives_the_stream(certs, tmp_path):
    cert_pem, key_pem, out = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "out.jsonl"
    issued = certs.ca.issue_cert("127.0.0.1")
    issued.private_key_pem.write_to_path(str(key_pem))
    issued.cert_chain_pems[0].write_to_path(str(cert_pem))
    proc = subprocess.Popen([sys.executable, "-m", "tests.engine.websockets_server",
                             str(cert_pem), str(key_pem), str(out)],
                            stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline().split()[1])

        async def main():
            async with engine_for(certs) as engine:
                engine.open_call("c", format=Format.L16_16K)
                s = await engine.start_stream(
                    "c", {"service_url": f"wss://127.0.0.1:{port}/agent?x=1",
                          "content_type": "audio/x-l16;rate=16000", "audio_track": "both",
                          "l16_byte_order": "be", "extra_headers": "k=v"},
                    account_id="MA9", auth_token="tok")
                for i in range(40):  # 0.8 s of audio
                    engine.feed("c", "inbound", (np.arange(320, dtype=np.int16) + i).tobytes())
                # stop once the fed audio and some silence after it went out (two tracks per
                # tick), not after a fixed real-time second: a loaded machine may run late
                with trio.fail_after(20):
                    while engine.get(s.stream_id).frames_sent < 2 * (40 + 5):
                        await trio.sleep(0.02)
                engine.stop_stream(s.stream_id)
                with trio.fail_after(5):
                    while not engine.get(s.stream_id).status.ended:
                        await trio.sleep(0.01)
                return engine.get(s.stream_id)

        final = trio.run(main)
        proc.wait(timeout=10)
    finally:
        proc.kill()
        proc.stdout.close()
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    headers = {k.lower(): v for k, v in lines[0]["headers"].items()}
    assert lines[0]["path"] == "/agent?x=1"
    assert headers["x-k"] == "v" and "x-signature-v3" in headers
    messages = [line["message"] for line in lines if "message" in line]
    assert lines[-1] == {"close_code": 1000}
    assert messages[0]["event"] == "start" and messages[-1]["event"] == "stop"
    assert [m["sequenceNumber"] for m in messages] == list(range(1, len(messages) + 1))
    media = [m for m in messages if m["event"] == "media"]
    assert len(media) == final.frames_sent
    tracks = [m["media"]["track"] for m in media]
    assert tracks[:4] == ["inbound", "outbound", "inbound", "outbound"]  # inbound first each tick
    inbound = [base64.b64decode(m["media"]["payload"]) for m in media if m["media"]["track"] == "inbound"]
    # the call's little-endian samples arrive big-endian, as the stream asked
    assert inbound[:40] == [(np.arange(320, dtype=np.int16) + i).byteswap().tobytes() for i in range(40)]
    assert set(inbound[40:]) == {bytes(640)}
    outbound = {base64.b64decode(m["media"]["payload"]) for m in media if m["media"]["track"] == "outbound"}
    assert outbound == {bytes(640)}
