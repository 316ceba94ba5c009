"""Two engines on two OS threads, each with its own Trio run, streaming over stdlib TLS at the
same time. The fan-out kernel encodes every fork's frame into one module-global buffer; the
stdlib ssl object's `write` releases the GIL, so it must be handed a copy of the frame: given
the shared buffer itself, the other thread's engine encoded its own frames into it meanwhile
and a stream sent another stream's audio (or half of another stream's frame).

A concurrency test, so the real clock: a few seconds in all. Each step waits for what it needs
(every stream connected, AUDIO_FRAMES of audio received, every stream ended), not for a fixed time:
on a loaded machine the 80 TLS handshakes alone can take longer than the whole run here, and
a stream still connecting when the audio starts would rightly begin later in it."""

import base64
import json
import threading

import trio

from mediacore.codec import Format
from mediacore.engine.lifecycle import StopReason, StreamStatus
from tests.engine.helpers import engine_for
from tests.engine.servers import Recorder, start_server

TAGS = [(0x11, 0x12), (0x21, 0x22)]    # per engine, one call per tag: its frames' first byte
FORKS_PER_CALL = 20                     # each to its own path; enough to mix frames in every run
                                        # without the copy, few enough for a loaded server
AUDIO_FRAMES = 50                       # each stream sends at least this many after the feed
STEP_LIMIT_S = 60                       # for each step to be reached, however loaded the machine
FRAMES_FED = 500                        # more than the streams send, unless the machine is slow
FORMAT = Format.L16_16K                 # the biggest frames: the longest writes
SILENCE = FORMAT.silence * FORMAT.frame_bytes


def audio(tag: int, i: int) -> bytes:
    """Frame `i` of the call tagged `tag`: which call, which frame."""
    return bytes([tag, i % 256]) * (FORMAT.frame_bytes // 2)


async def record_anything(conn, ws) -> None:
    """Record every message, whatever arrives: a frame mixed with another stream's is kept
    (as text) to be reported, not an exception in the server."""
    while True:
        text = await ws.get_message()
        try:
            conn.messages.append(json.loads(text))
        except ValueError:
            conn.messages.append({"event": "not JSON", "text": text[:200]})


async def until(done, what: str) -> None:
    """Wait for `done()`, failing (with what was awaited) after STEP_LIMIT_S."""
    with trio.move_on_after(STEP_LIMIT_S):
        while not done():
            await trio.sleep(0.01)
        return
    raise AssertionError(f"not within {STEP_LIMIT_S} s: {what}")


def run_engine(tags, certs, barrier, out) -> None:
    """One engine and its server on this thread: a call per tag, FORKS_PER_CALL stdlib-TLS
    streams per call, fed that call's frames, each streaming until it has sent AUDIO_FRAMES
    of them, then stopped. What the server received and how each stream ended go to `out`
    (or the exception, as "error")."""
    async def main():
        recorder = Recorder(record_anything)
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, recorder, certs.server)
            # both media clocks start at once: the two engines tick at the same moments
            await trio.to_thread.run_sync(barrier.wait, STEP_LIMIT_S)
            async with engine_for(certs, stdlib_tls=True,
                                  max_streams_per_call=FORKS_PER_CALL) as engine:
                await stream(engine, server.port, recorder)
            # a loaded server may still be reading what a stream wrote before it closed
            await until(lambda: all(c.closed.is_set() for c in recorder.connections),
                        "every connection read to its end by the server")
            nursery.cancel_scope.cancel()
        out["connections"] = recorder.connections

    async def stream(engine, port, recorder):
        assert engine.ssl_context is certs.client  # the stdlib path, not native TLS
        streams = out["streams"] = {}
        for tag in tags:
            call = f"call-{tag:#x}"
            engine.open_call(call, format=FORMAT)
            for f in range(FORKS_PER_CALL):
                path = f"/{tag:#x}/{f}"
                started = await engine.start_stream(call, {
                    "service_url": f"wss://127.0.0.1:{port}{path}",
                    "content_type": FORMAT.value})
                streams[started.stream_id] = tag, path
        # (a stream that failed meanwhile is reported below)
        await until(lambda: all(engine.get(s).status is not StreamStatus.INITIATED
                                for s in streams), "every stream connected")
        # until now every stream sent silence; from the next tick, its call's frames
        await trio.to_thread.run_sync(barrier.wait, STEP_LIMIT_S)
        fed = {s: engine.get(s).frames_sent for s in streams}
        for tag in tags:
            engine.feed(f"call-{tag:#x}", "inbound",
                        b"".join(audio(tag, i) for i in range(FRAMES_FED)))
        # received, not only sent: a server far behind would still be reading its backlog
        # when the stream stops, and the stop would not reach it within the stop's grace time
        def received(stream_id):
            path = streams[stream_id][1]
            return next((len(c.messages) for c in recorder.connections if c.path == path), 0)
        await until(lambda: all(received(s) > 1 + n + AUDIO_FRAMES or engine.get(s).status.ended
                                for s, n in fed.items()),
                    f"{AUDIO_FRAMES} frames of audio received from every stream")
        for stream_id in streams:
            engine.stop_stream(stream_id)
        await until(lambda: all(engine.get(s).status.ended for s in streams),
                    "every stream ended")
        out["finals"] = {s: engine.get(s) for s in streams}

    try:
        trio.run(main)
    except BaseException as exc:  # the main thread raises it
        out["error"] = exc
        barrier.abort()


def test_two_engines_on_two_threads_send_each_stream_its_own_frames(certs):
    barrier = threading.Barrier(len(TAGS))
    runs = [{} for _ in TAGS]
    threads = [threading.Thread(target=run_engine, args=(tags, certs, barrier, out))
               for tags, out in zip(TAGS, runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5 * STEP_LIMIT_S)
        assert not thread.is_alive(), "an engine thread hung"
    errors = [out["error"] for out in runs if "error" in out]
    if errors:  # the one that broke the barrier rather than the other thread's broken wait
        raise min(errors, key=lambda e: isinstance(e, threading.BrokenBarrierError))

    # first what the bug did: frames (or halves of frames) of one stream sent by another
    owner = {sid: tag for out in runs for sid, (tag, _) in out["streams"].items()}
    mixed = []
    for out in runs:
        by_path = {conn.path: conn for conn in out["connections"]}
        for stream_id, (tag, path) in out["streams"].items():
            for m in by_path[path].messages:
                if m["event"] == "not JSON":
                    mixed.append(f"{tag:#x}: a message that is not JSON")
                elif m["event"] == "media" and m["streamId"] != stream_id:
                    other = owner.get(m["streamId"])
                    mixed.append(f"{tag:#x}: a frame of " + (f"a stream of {other:#x}" if other
                                                               else "no stream"))
    assert not mixed, f"{len(mixed)} messages went to the wrong server, e.g. {mixed[:3]}"

    for out in runs:
        by_path = {conn.path: conn for conn in out["connections"]}
        assert len(by_path) == len(out["connections"]) == len(out["streams"]), \
            "a stream connected more than once"
        for stream_id, (tag, path) in out["streams"].items():
            final = out["finals"][stream_id]
            assert final.status is StreamStatus.STOPPED, (final.status, final.error)
            assert final.stop_reason is StopReason.API_REQUEST and final.reconnects == 0
            conn = by_path[path]
            assert [m["event"] for m in conn.messages if m["event"] != "media"] == \
                ["start", "stop"]
            media = conn.events("media")
            assert {m["streamId"] for m in media} == {stream_id}
            # silence until the feed, then every frame carries this call's audio, frame after
            # frame from the first: none from another call, none lost, none out of order
            payloads = [base64.b64decode(m["media"]["payload"]) for m in media]
            silent = next((i for i, p in enumerate(payloads) if p != SILENCE), len(payloads))
            fed = min(len(payloads) - silent, FRAMES_FED)  # (a slow machine sends them all)
            expected = ([SILENCE] * silent + [audio(tag, i) for i in range(fed)]
                        + [SILENCE] * (len(payloads) - silent - fed))
            if payloads != expected:
                k = next(i for i, (p, e) in enumerate(zip(payloads, expected)) if p != e)
                raise AssertionError(f"stream {stream_id} (call {tag:#x}) frame {k}: "
                                     f"{payloads[k][:4].hex()}... instead of "
                                     f"{expected[k][:4].hex()}...")
            chunks = [m["media"]["chunk"] for m in media]
            assert chunks == list(range(1, len(chunks) + 1))
            assert [m["sequenceNumber"] for m in conn.messages] == \
                list(range(1, len(conn.messages) + 1))
            assert len(payloads) - silent >= AUDIO_FRAMES
            assert final.frames_sent == len(media) and final.frames_dropped == 0
            assert conn.close_code == 1000
