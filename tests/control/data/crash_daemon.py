"""A daemon-like process for the SIGKILL test: store + engine + ControlPlane, two calls with
one stream each to a local TLS WebSocket server, status callbacks to a receiver that is down.
When both streams have connected (StartStream in the outbox, undeliverable) and metering has
been checkpointed, it prints `READY <json>` and waits to be killed.

    python -m tests.control.data.crash_daemon DB_PATH CALLBACK_URL
"""

from __future__ import annotations

import json
import sys

import trio
from trio_websocket import serve_websocket

from control.service import ControlPlane
from control.store import open_store
from mediacore.engine import Engine, UrlPolicy
from tests.engine.servers import Recorder, TlsCerts

LOOPBACK = UrlPolicy.allowing("127.0.0.0/8")


async def main(db_path: str, callback_url: str) -> None:
    certs = TlsCerts()
    store = open_store(f"sqlite:///{db_path}")
    recorder = Recorder()
    async with trio.open_nursery() as nursery:
        server = await nursery.start(serve_websocket, recorder.handler, "127.0.0.1", 0,
                                     certs.server)
        async with Engine(policy=LOOPBACK, ssl_context=certs.client) as engine:
            control = ControlPlane(engine, store, callback_policy=LOOPBACK,
                                   checkpoint_interval_s=0.5)
            await nursery.start(control.run)
            account, token = await control.create_account()
            streams = []
            for n in (1, 2):
                engine.open_call(f"call-{n}")
                await control.attach_call(account, f"call-{n}")
                started = await control.start_stream(account, f"call-{n}", {
                    "service_url": f"wss://localhost:{server.port}/s{n}",
                    "status_callback_url": callback_url})
                streams.append(started["stream_id"])
            while True:
                await trio.sleep(0.1)
                rows = [await store.get_stream(sid) for sid in streams]
                if all(r["forked_ms"] > 0 for r in rows):
                    break
            print("READY " + json.dumps({"auth_id": account.auth_id, "token": token,
                                         "streams": streams}), flush=True)
            await trio.sleep_forever()


if __name__ == "__main__":
    trio.run(main, sys.argv[1], sys.argv[2])
