"""`mediacore demo`: see the whole path work on one machine, in about ten seconds.

One Trio run holds:
- the daemon (control/daemon.py) on a free loopback port, with a throwaway SQLite store in a
  temporary directory, loopback allow-listed and plain ws:// allowed for the local receiver;
- an echo agent: a trio-websocket server that answers every half second of inbound audio with
  that audio as `playAudio` followed by a `checkpoint` (a voice agent's bidirectional loop);
- a callback receiver: a small ASGI app on Hypercorn that counts status callbacks by Event;
- a simulated call, opened on the engine and attached to a new account (what a call arriving
  over RTP or AudioSocket amounts to), fed at real time with a built-in test signal: a tone
  that sweeps 300 -> 3000 Hz and back, with a syllable-like loudness envelope.

The stream is started through the REST API over real HTTP (bidirectional, μ-law 8 kHz, with a
status callback URL); a progress line shows frames sent, audio echoed back into the call,
checkpoints played and callbacks received; after `--seconds` the stream is stopped through
the API and a summary table is printed. Exit status 0 when audio went out, came back, and the
StartStream and StopStream callbacks arrived; 1 otherwise.
"""

from __future__ import annotations

import array
import base64
import collections
import json
import math
import sys
import tempfile

import httpx
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve as hypercorn_serve
from trio_websocket import ConnectionClosed, serve_websocket

from control import daemon, logs
from control.config import Settings

SAMPLE_RATE = 8000
FRAME_SAMPLES = 160          # 20 ms
ECHO_EVERY_FRAMES = 25       # the agent answers every 0.5 s of audio
SETTLE_S = 5.0               # how long to wait for the final callbacks


def test_signal(frame_index: int) -> bytes:
    """20 ms of L16 8 kHz: a 300-3000 Hz sweep (4 s up, 4 s down) with a 4 Hz syllable-like
    envelope, so the echo is audible and every frame differs."""
    out = array.array("h")
    for i in range(FRAME_SAMPLES):
        t = (frame_index * FRAME_SAMPLES + i) / SAMPLE_RATE
        phase_in_sweep = (t % 8.0) / 4.0
        sweep = phase_in_sweep if phase_in_sweep <= 1.0 else 2.0 - phase_in_sweep
        # phase of a linear chirp: integral of the instantaneous frequency
        freq = 300.0 + 2700.0 * sweep
        envelope = 0.25 + 0.75 * abs(math.sin(math.pi * 4.0 * t))
        out.append(int(9000 * envelope * math.sin(2 * math.pi * freq * t)))
    if sys.byteorder == "big":
        out.byteswap()
    return out.tobytes()


class EchoAgent:
    """A voice agent in miniature: echoes inbound audio back with a checkpoint."""

    def __init__(self) -> None:
        self.port = 0
        self.media_received = 0
        self.echoes_sent = 0
        self.played: list[str] = []
        self.stop_reason: str | None = None
        self.close_code: int | None = None

    async def handler(self, request) -> None:
        ws = await request.accept()
        pending: list[bytes] = []
        try:
            while True:
                message = json.loads(await ws.get_message())
                event = message.get("event")
                if event == "media":
                    self.media_received += 1
                    pending.append(base64.b64decode(message["media"]["payload"]))
                    if len(pending) >= ECHO_EVERY_FRAMES:
                        self.echoes_sent += 1
                        await ws.send_message(json.dumps({"event": "playAudio", "media": {
                            "contentType": "audio/x-mulaw", "sampleRate": 8000,
                            "payload": base64.b64encode(b"".join(pending)).decode()}}))
                        await ws.send_message(json.dumps({
                            "event": "checkpoint", "streamId": message["streamId"],
                            "name": f"echo-{self.echoes_sent}"}))
                        pending.clear()
                elif event == "playedStream":
                    self.played.append(message["name"])
                elif event == "stop":
                    self.stop_reason = message["stop"]["reason"]
        except ConnectionClosed as exc:
            self.close_code = exc.reason.code

    async def run(self, task_status=trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            server = await nursery.start(serve_websocket, self.handler, "127.0.0.1", 0, None)
            self.port = server.port
            task_status.started(self)


class CallbackReceiver:
    """Counts the status callbacks it receives, by Event."""

    def __init__(self) -> None:
        self.events: collections.Counter[str] = collections.Counter()
        self.url = ""

    async def app(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        fields = dict(httpx.QueryParams(body.decode() or scope["query_string"].decode()))
        self.events[fields.get("Event", "?")] += 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def run(self, task_status=trio.TASK_STATUS_IGNORED) -> None:
        config = HypercornConfig()
        config.bind = ["127.0.0.1:0"]
        config.accesslog = None
        config.errorlog = None  # (a path or "-" would give Hypercorn's shared logger a handler)
        async with trio.open_nursery() as nursery:
            urls = await nursery.start(hypercorn_serve, self.app, config)
            self.url = urls[0] + "/callbacks"
            task_status.started(self)


async def _feed(engine, call_id: str, frames: list[int]) -> None:
    """The caller: 20 ms of test signal every 20 ms, paced from the start time."""
    start = trio.current_time()
    index = 0
    while call_id in engine.calls:
        engine.feed(call_id, "inbound", test_signal(index))
        index += 1
        frames[0] = index
        await trio.sleep_until(start + index * 0.020)


async def _listen(engine, call_id: str, echoed: list[int]) -> None:
    """The caller's ear: counts 20 ms playback frames that carry the agent's audio."""
    try:
        while True:
            frame = await engine.read_playback(call_id)
            if any(frame):
                echoed[0] += 1
    except KeyError:  # CallClosed: the call ended
        return


async def run_demo(seconds: float, out=sys.stdout) -> int:
    interactive = out.isatty()
    with tempfile.TemporaryDirectory(prefix="mediacore-demo-") as data_dir:
        settings = Settings(host="127.0.0.1", port=0, data_dir=data_dir,
                            allowed_networks=("127.0.0.0/8", "::1/128"), allow_plain_ws=True,
                            checkpoint_interval_s=1.0, log_level="WARNING")
        agent, callbacks = EchoAgent(), CallbackReceiver()
        shutdown = trio.Event()
        async with trio.open_nursery() as nursery:
            await nursery.start(agent.run)
            await nursery.start(callbacks.run)
            daemon_done = trio.Event()

            async def run_daemon(task_status=trio.TASK_STATUS_IGNORED) -> None:
                try:
                    await daemon.run(settings, shutdown=shutdown, task_status=task_status)
                finally:
                    daemon_done.set()

            running = await nursery.start(run_daemon)
            plane, engine = running.plane, running.engine
            account, token = await plane.create_account()
            call = engine.open_call(format="audio/x-l16;rate=8000", call_from="+15550100",
                                    call_to="+15550199")
            await plane.attach_call(account, call.call_id)
            fed, echoed = [0], [0]
            nursery.start_soon(_feed, engine, call.call_id, fed)
            nursery.start_soon(_listen, engine, call.call_id, echoed)
            base = f"{running.url('http')}/v1/Account/{account.auth_id}/Call/{call.call_id}"
            print(f"mediacore demo: daemon on {running.url('http')}, account "
                  f"{account.auth_id}, call {call.call_id}", file=out)
            async with httpx.AsyncClient(auth=(account.auth_id, token), timeout=10) as http:
                response = await http.post(f"{base}/Stream/", json={
                    "service_url": f"ws://127.0.0.1:{agent.port}/agent", "bidirectional": True,
                    "content_type": "audio/x-mulaw;rate=8000",
                    "status_callback_url": callbacks.url})
                response.raise_for_status()
                stream_id = response.json()["stream_id"]
                print(f"POST {base}/Stream/ -> {response.status_code} stream {stream_id}",
                      file=out)
                deadline = trio.current_time() + seconds
                while trio.current_time() < deadline:
                    await trio.sleep(min(0.5, max(0.0, deadline - trio.current_time())))
                    stream = (await http.get(f"{base}/Stream/{stream_id}/")).json()
                    line = (f"{seconds - max(0.0, deadline - trio.current_time()):5.1f} s  "
                            f"{stream['status']:<11} frames sent {stream['frames_sent']:>4}  "
                            f"echoed back {echoed[0]:>4}  checkpoints {len(agent.played):>2}  "
                            f"callbacks {sum(callbacks.events.values()):>2}")
                    print(("\r" + line) if interactive else line, end="" if interactive
                          else "\n", file=out, flush=True)
                if interactive:
                    print(file=out)
                stopped = await http.delete(f"{base}/Stream/{stream_id}/")
                print(f"DELETE {base}/Stream/{stream_id}/ -> {stopped.status_code}", file=out)
                with trio.move_on_after(SETTLE_S):
                    while not callbacks.events["StopStream"] or agent.close_code is None:
                        await trio.sleep(0.05)
                final = (await http.get(f"{base}/Stream/{stream_id}/")).json()
            engine.close_call(call.call_id)
            shutdown.set()
            await daemon_done.wait()  # daemon.run drains and returns; then the others go
            nursery.cancel_scope.cancel()
    ok = (final["frames_sent"] > 0 and echoed[0] > 0 and callbacks.events["StartStream"] >= 1
          and callbacks.events["StopStream"] >= 1)
    _summary(out, final, agent, callbacks, fed[0], echoed[0], ok)
    return 0 if ok else 1


def _summary(out, stream, agent, callbacks, fed, echoed, ok) -> None:
    rows = [
        ("stream", stream["stream_id"]),
        ("status / stop reason", f"{stream['status']} / {stream['stop_reason']}"),
        ("audio fed by the caller", f"{fed} frames ({fed * 0.02:.1f} s)"),
        ("frames sent to the agent", str(stream["frames_sent"])),
        ("frames the agent received", str(agent.media_received)),
        ("echoes (playAudio) sent", str(agent.echoes_sent)),
        ("echoed frames played into the call", str(echoed)),
        ("checkpoints played", str(len(agent.played))),
        ("agent saw stop / close code", f"{agent.stop_reason} / {agent.close_code}"),
        ("callbacks received", ", ".join(f"{k} {v}" for k, v in sorted(
            callbacks.events.items())) or "none"),
        ("bill duration / amount", f"{stream['bill_duration']} s / {stream['billed_amount']}"),
        ("result", "OK" if ok else "FAILED"),
    ]
    width = max(len(name) for name, _ in rows)
    print("\nSummary", file=out)
    for name, value in rows:
        print(f"  {name:<{width}}  {value}", file=out)


def main(seconds: float = 10.0) -> int:
    logs.configure("WARNING")
    return trio.run(run_demo, seconds)
