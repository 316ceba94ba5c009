"""Many forks at once: 1,000 concurrent forks (100 calls x 10 streams) to one real server,
every frame delivered, in order, on every connection."""

import trio

from mediacore.codec import Format
from mediacore.engine.lifecycle import StreamStatus
from tests.engine.conftest import run_mock
from tests.engine.helpers import engine_for
from tests.engine.servers import Recorder, start_server


def test_a_thousand_concurrent_forks_get_every_frame_in_order(certs):
    async def main():
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, Recorder())  # plain ws: 1,000 TLS handshakes add nothing here
            async with engine_for(certs, max_streams_per_call=10) as engine:
                streams = []
                for c in range(100):
                    call = f"call-{c}"
                    engine.open_call(call, format=Format.MULAW_8K)
                    for f in range(10):
                        streams.append(await engine.start_stream(
                            call, {"service_url": f"ws://127.0.0.1:{server.port}/{c}/{f}",
                                   "content_type": "audio/x-mulaw;rate=8000"}))
                with trio.fail_after(30):
                    while len(server.connections) < 1000:
                        await trio.sleep(0.02)
                await trio.sleep(1.0)
                for call in list(engine.calls):
                    engine.close_call(call)
                with trio.fail_after(30):
                    while any(not engine.get(s.stream_id).status.ended for s in streams):
                        await trio.sleep(0.02)
                finals = {s.stream_id: engine.get(s.stream_id) for s in streams}
                await trio.sleep(0.1)
            nursery.cancel_scope.cancel()
        assert len(server.connections) == 1000
        for conn in server.connections:
            start = conn.messages[0]
            assert start["event"] == "start"
            final = finals[start["start"]["streamId"]]
            assert final.status is StreamStatus.STOPPED
            media = conn.events("media")
            assert [m["media"]["chunk"] for m in media] == list(range(1, len(media) + 1))
            assert [m["sequenceNumber"] for m in conn.messages] == list(range(1, len(conn.messages) + 1))
            assert len(media) == final.frames_sent >= 49  # 1 s of ticks, whatever the phase
            assert conn.messages[-1]["stop"]["reason"] == "call_hangup"
    run_mock(main)
