"""SIGKILL while callbacks are pending: after a restart every callback arrives, in order per
stream, and the streams left open are closed at their last checkpoint.

The dead process is `crash_daemon.py` (store + engine + ControlPlane). `daemon_command` is
the one place that names it: when the HTTP half's `mediacore serve` can be driven to the same
state (start streams over REST, then print READY), point it there.
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys

import trio

from control.service import ControlPlane
from control.store import open_store
from mediacore.engine import Engine, UrlPolicy
from tests.control.data.receiver import Receiver
from tests.engine.servers import refused_port

ROOT = pathlib.Path(__file__).resolve().parents[3]
LOOPBACK = UrlPolicy.allowing("127.0.0.0/8")


def daemon_command(db_path, callback_url) -> list[str]:
    return [sys.executable, "-m", "tests.control.data.crash_daemon", str(db_path), callback_url]


def test_callbacks_pending_at_a_sigkill_all_arrive_after_the_restart(tmp_path):
    db = tmp_path / "mediacore.db"
    port = refused_port()
    receiver = Receiver(port=port)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(daemon_command(db, receiver.url()), cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("READY "), proc.stderr.read() if proc.poll() is not None else line
        ready = json.loads(line[len("READY "):])
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()

    async def after_restart():
        store = open_store(f"sqlite:///{db}")
        before = await store.callbacks()
        checkpoints = {sid: (await store.get_stream(sid))["forked_ms"]
                       for sid in ready["streams"]}
        assert [r["fields"]["Event"] for r in before] == ["StartStream", "StartStream"]
        assert all(r["status"] == "pending" and r["attempts"] >= 1 for r in before)
        async with trio.open_nursery() as nursery:
            await nursery.start(receiver.serve)
            async with Engine(policy=LOOPBACK) as engine:
                control = ControlPlane(engine, store, callback_policy=LOOPBACK)
                await nursery.start(control.run)
                with trio.fail_after(20):
                    await receiver.wait_for(4)
                await trio.sleep(0.2)
                nursery.cancel_scope.cancel()
        for sid in ready["streams"]:
            got = [r for r in receiver.requests if r.fields["StreamID"] == sid]
            assert [r.fields["Event"] for r in got] == ["StartStream", "StopStream"]
            start_id = next(r["callback_id"] for r in before if r["stream_id"] == sid)
            assert got[0].headers["x-callback-id"] == start_id  # the same callback, resumed
            assert got[1].fields["StopReason"] == "shutdown"
            assert got[1].fields["BillDuration"] == str(-(-checkpoints[sid] // 1000))
            row = await store.get_stream(sid)
            assert (row["status"], row["stop_reason"]) == ("stopped", "shutdown")
            assert row["end_time_us"] == row["checkpoint_us"]
        assert len(receiver.requests) == 4
        assert await store.pending_callbacks() == 0
        await store.close()

    trio.run(after_restart)
