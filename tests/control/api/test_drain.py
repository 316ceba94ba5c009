"""Shutdown drains: the daemon (control.daemon.run, as `serve` runs it on SIGTERM) stops every
active stream with `stop` (reason shutdown) and a close 1000 before it returns; the stream's
final state is in the store. (The SIGTERM -> exit 0 path of the real process is in
tests/control/test_daemon.py.)"""

from __future__ import annotations

from tests.control.api.conftest import LiveDaemon, client_for, settings_for
from tests.control.api.helpers import base, start, wait_for


def test_shutdown_sends_stop_and_close_1000_to_every_active_stream(tmp_path, certs):
    server = LiveDaemon(settings_for(tmp_path, certs), certs).start()
    try:
        account = server.account()
        calls = [server.open_call(account) for _ in range(2)]
        with client_for(server, "h1") as client:
            streams = [start(client, account, call, f"{server.ws_url}/{i}", bidirectional=True)
                       for i, call in enumerate(calls)]
            wait_for(lambda: all(client.get(f"{base(account)}/Call/{c}/Stream/{s}/",
                                            headers=account.headers).json()["status"]
                                 == "in-progress" for c, s in zip(calls, streams)),
                     what="both streams to carry audio")
    finally:
        server.stop()
    assert server._error is None
    connections = server.recorder.connections
    assert len(connections) == 2
    for conn in connections:
        assert conn.closed.is_set()
        assert conn.messages[-1]["event"] == "stop"
        assert conn.messages[-1]["stop"]["reason"] == "shutdown"
        assert conn.close_code == 1000
    # the store holds the final state: a new daemon on the same store reports it
    again = LiveDaemon(settings_for(tmp_path, certs), certs).start()
    try:
        row = again.run(again.running.store.get_stream, streams[0])
        assert row["status"] == "stopped" and row["stop_reason"] == "shutdown"
    finally:
        again.stop()
