"""`mediacore serve` as a real process: config file + MEDIACORE_* variables, a fresh SQLite
store, the first account printed once, `mediacore account create`, /healthz, /metrics, the
API, structured logs, and SIGTERM draining an active stream (`stop`, close 1000) to exit 0."""

from __future__ import annotations

import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest
import trio

from tests.engine.servers import Recorder, TlsCerts, start_server

ROOT = pathlib.Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    def __init__(self, tmp_path: pathlib.Path, certs: TlsCerts) -> None:
        self.port = free_port()
        ca = tmp_path / "ca.pem"
        certs.ca.cert_pem.write_to_path(str(ca))
        config = tmp_path / "mediacore.toml"
        config.write_text(f'host = "127.0.0.1"\nport = 1\ndata_dir = "{tmp_path / "data"}"\n'
                          f'allowed_networks = ["127.0.0.0/8"]\nca_file = "{ca}"\n'
                          f'checkpoint_interval_s = 1.0\n')
        self.env = {**os.environ, "PYTHONPATH": str(ROOT),
                    "MEDIACORE_PORT": str(self.port),  # overrides the file's port
                    "MEDIACORE_RTP_PORT_MIN": "41000", "MEDIACORE_RTP_PORT_MAX": "41099"}
        self.config = config
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "control.cli", "serve", "--config", str(config)], cwd=ROOT,
            env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._pumps = [threading.Thread(target=self._pump, args=(pipe, lines), daemon=True)
                       for pipe, lines in ((self.proc.stdout, self.stdout),
                                           (self.proc.stderr, self.stderr))]
        for pump in self._pumps:
            pump.start()

    @staticmethod
    def _pump(pipe, lines) -> None:
        for line in pipe:
            lines.append(line.rstrip("\n"))

    def wait_for_output(self, text: str, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not any(text in line for line in self.stdout):
            assert self.proc.poll() is None, "\n".join(self.stdout + self.stderr)
            assert time.monotonic() < deadline, "\n".join(self.stdout + self.stderr)
            time.sleep(0.05)

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "control.cli", *args], cwd=ROOT,
                              env=self.env, capture_output=True, text=True, timeout=60)

    def first_account(self) -> tuple[str, str]:
        values = {}
        for line in self.stdout:
            key, _, value = line.strip().partition(":")
            if key in ("auth_id", "auth_token"):
                values[key] = value.strip()
        return values["auth_id"], values["auth_token"]

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.close()

    def close(self) -> int:
        """Wait for the process (killing it if it outlives 30 s), read all its output."""
        try:
            code = self.proc.wait(30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            for pump in self._pumps:
                pump.join(10)
            self.proc.stdout.close()
            self.proc.stderr.close()
        return code


@pytest.fixture
def certs():
    return TlsCerts()


def serve_in_thread(start):
    """Run `await start(nursery)` (a server started in that nursery) in a Trio loop of its own
    thread, as a daemon under test talks to it from outside; returns stop()."""
    ready, stop = threading.Event(), threading.Event()

    async def main():
        async with trio.open_nursery() as nursery:
            await start(nursery)
            ready.set()
            while not stop.is_set():
                await trio.sleep(0.05)
            nursery.cancel_scope.cancel()

    thread = threading.Thread(target=trio.run, args=(main,), daemon=True)
    thread.start()
    assert ready.wait(10), "the server did not start"

    def stop_it():
        stop.set()
        thread.join(10)
    return stop_it


@pytest.fixture
def recorder(certs):
    """A TLS WebSocket server in its own Trio thread."""
    recorder = Recorder()
    stop = serve_in_thread(lambda nursery: start_server(nursery, recorder, certs.server))
    yield recorder
    stop()


def test_serve_first_start_accounts_health_metrics_and_sigterm(tmp_path, certs):
    daemon = Daemon(tmp_path, certs)
    try:
        daemon.wait_for_output("First start: created an account")
        auth_id, token = daemon.first_account()
        created = daemon.cli("account", "create", "--config", str(daemon.config), "--rate",
                             "0.005", "--json")
        assert created.returncode == 0, created.stderr
        second = json.loads(created.stdout)
        assert second["rate_per_minute"] == "0.00500" and second["auth_id"] != auth_id

        with httpx.Client(base_url=daemon.url, timeout=10) as http:
            health = http.get("/healthz")
            assert health.status_code == 200 and health.json()["status"] == "ok"
            usage = http.get(f"/v1/Account/{auth_id}/Usage/Stream/", auth=(auth_id, token))
            assert usage.status_code == 200 and usage.json()["streams"] == 0
            other = http.get(f"/v1/Account/{second['auth_id']}/Usage/Stream/",
                             headers={"X-Auth-ID": second["auth_id"],
                                      "X-Auth-Token": second["auth_token"]})
            assert other.status_code == 200
            assert http.get(f"/v1/Account/{auth_id}/Usage/Stream/",
                            headers={"X-Auth-ID": second["auth_id"],
                                     "X-Auth-Token": second["auth_token"]}).status_code == 404
            metrics = http.get("/metrics").text
            for name in ("mediacore_active_calls 0.0", 'mediacore_active_streams{status="in-'
                         'progress"} 0.0', "mediacore_frames_sent_total",
                         "mediacore_callback_queue_depth", "mediacore_tick_lateness_seconds_"
                         "bucket", 'mediacore_tick_lateness_seconds_bucket{le="0.005"}',
                         "mediacore_handshakes_waiting 0.0",
                         "mediacore_idle_headroom_seconds 0.005",
                         "mediacore_tick_pace_seconds 0.0",
                         "mediacore_gc_full_collections_total",
                         "mediacore_gc_full_collection_longest_seconds"):
                assert name in metrics, metrics
            # serve freezes what survived its first full collection (gc_freeze is on)
            frozen = re.search(r"^mediacore_gc_frozen_objects (\S+)$", metrics, re.M)
            assert frozen and float(frozen.group(1)) > 10_000, metrics
        assert daemon.terminate() == 0
    finally:
        if daemon.proc.poll() is None:
            daemon.proc.kill()
            daemon.close()
    logs = [json.loads(line) for line in daemon.stderr]      # every line is one JSON object
    messages = [entry["message"] for entry in logs]
    assert "drained" in messages and "stopped" in messages
    assert any(entry.get("url") == daemon.url for entry in logs)

    # a second start on the same store creates no account and says how to make one
    again = Daemon(tmp_path, certs)
    try:
        again.wait_for_output("Create an account with: mediacore account create")
        assert not any("auth_token" in line for line in again.stdout)
        assert again.terminate() == 0
    finally:
        if again.proc.poll() is None:
            again.proc.kill()
            again.close()


def test_sigterm_stops_an_active_stream_with_stop_and_close_1000(tmp_path, certs, recorder):
    daemon = Daemon(tmp_path, certs)
    try:
        daemon.wait_for_output("First start: created an account")
        auth_id, token = daemon.first_account()
        with httpx.Client(base_url=daemon.url, auth=(auth_id, token), timeout=10) as http:
            call = http.post(f"/v1/Account/{auth_id}/Call/", json={
                "ingress": "rtp", "codec": "PCMU", "sample_rate": 8000})
            assert call.status_code == 201, call.text
            call_uuid = call.json()["call_uuid"]
            started = http.post(f"/v1/Account/{auth_id}/Call/{call_uuid}/Stream/", json={
                "service_url": f"wss://127.0.0.1:{recorder.port}/agent",
                "bidirectional": True})
            assert started.status_code == 202, started.text
            deadline = time.monotonic() + 20
            while not (recorder.connections and recorder.media):
                assert time.monotonic() < deadline, "no media reached the WebSocket server"
                time.sleep(0.05)
        assert daemon.terminate() == 0
    finally:
        if daemon.proc.poll() is None:
            daemon.proc.kill()
            daemon.close()
    conn = recorder.connections[0]
    deadline = time.monotonic() + 5
    while not conn.closed.is_set():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert conn.messages[-1]["event"] == "stop"
    assert conn.messages[-1]["stop"]["reason"] == "shutdown"
    assert conn.close_code == 1000


def test_bad_configuration_exits_2_naming_the_setting(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("prot = 8080\n")
    result = subprocess.run([sys.executable, "-m", "control.cli", "serve", "--config",
                             str(config)], cwd=ROOT, capture_output=True, text=True, timeout=30,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 2 and "unknown setting 'prot'" in result.stderr


def test_sigkill_with_callbacks_pending_then_restart_delivers_every_callback(
        tmp_path, certs, recorder):
    """`mediacore serve` killed with SIGKILL while its callback receiver is down: the next
    start closes the stream it left open (shutdown, billed to the last checkpoint) and
    delivers every callback, in order, StartStream with its original X-Callback-ID."""
    from tests.control.data.receiver import Receiver
    from tests.engine.servers import refused_port

    callback_port = refused_port()
    daemon = Daemon(tmp_path, certs)
    try:
        daemon.wait_for_output("First start: created an account")
        auth_id, token = daemon.first_account()
        with httpx.Client(base_url=daemon.url, auth=(auth_id, token), timeout=10) as http:
            call = http.post(f"/v1/Account/{auth_id}/Call/", json={"ingress": "rtp"})
            assert call.status_code == 201, call.text
            call_uuid = call.json()["call_uuid"]
            started = http.post(f"/v1/Account/{auth_id}/Call/{call_uuid}/Stream/", json={
                "service_url": f"wss://127.0.0.1:{recorder.port}/agent",
                "status_callback_url": f"http://127.0.0.1:{callback_port}/cb"})
            assert started.status_code == 202, started.text
            stream_id = started.json()["stream_id"]
            deadline = time.monotonic() + 20
            while not recorder.media:
                assert time.monotonic() < deadline, "no media reached the WebSocket server"
                time.sleep(0.05)
            time.sleep(2.5)  # streaming, with checkpoints every second (the config's)
        daemon.proc.send_signal(signal.SIGKILL)
        assert daemon.close() == -signal.SIGKILL
    finally:
        if daemon.proc.poll() is None:
            daemon.proc.kill()
            daemon.close()

    receiver = Receiver(port=callback_port)
    stop_receiver = serve_in_thread(lambda nursery: nursery.start(receiver.serve))
    again = Daemon(tmp_path, certs)
    try:
        deadline = time.monotonic() + 30
        while len(receiver.requests) < 2:
            assert again.proc.poll() is None, "\n".join(again.stdout + again.stderr)
            assert time.monotonic() < deadline, [r.fields for r in receiver.requests]
            time.sleep(0.05)
        with httpx.Client(base_url=again.url, auth=(auth_id, token), timeout=10) as http:
            stream = http.get(f"/v1/Account/{auth_id}/Call/{call_uuid}/Stream/{stream_id}/")
        assert again.terminate() == 0
    finally:
        if again.proc.poll() is None:
            again.proc.kill()
            again.close()
        stop_receiver()
    events = [(r.fields["Event"], r.fields["StreamID"]) for r in receiver.requests]
    assert events == [("StartStream", stream_id), ("StopStream", stream_id)]
    stop = receiver.requests[1].fields
    assert stop["StopReason"] == "shutdown"
    assert int(stop["BillDuration"]) >= 2  # billed up to the last checkpoint before the kill
    assert len({r.headers["x-callback-id"] for r in receiver.requests}) == 2
    assert stream.status_code == 200
    body = stream.json()
    assert (body["status"], body["stop_reason"]) == ("stopped", "shutdown")
    assert body["bill_duration"] == int(stop["BillDuration"])
