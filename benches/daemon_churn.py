"""Full garbage collections in the daemon while streams come and go through the REST API:
`mediacore serve` in its own process (the embedded SQLite store; status callbacks to a URL
of its own that answers 404, so each is sent once; calls registered through the API with no
RTP ever sent, so the inactivity timeout is set out of the way), the fan-out benchmark's C
sink as every stream's WebSocket server, and this process as the API client. N streams are
started (calls of 10), then for S seconds one is stopped (DELETE) and another started (POST)
R times a second. Run twice, with `gc_freeze` off and on (mediacore/engine/collector.py);
reports what the daemon's /metrics says of its full collections and of the media clock's
lateness over the churn.

    python3 -m benches.daemon_churn --streams 300 --churn-s 120 --churn-rate 20
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time

import httpx

from benches.fanout import certs as certs_mod
from benches.fanout.run import start_sink, stop_sink
from benches.gc_pause import result_line

PORT = 18_631


def metrics(http: httpx.Client) -> dict[str, float]:
    text = http.get(f"http://127.0.0.1:{PORT}/metrics").text
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def late_ticks(m: dict[str, float], over_s: float) -> float:
    """Ticks later than `over_s` (from the cumulative histogram)."""
    total = m["mediacore_tick_lateness_seconds_count"]
    le = {float(re.search(r'le="([^"]+)"', k).group(1)): v for k, v in m.items()
          if k.startswith("mediacore_tick_lateness_seconds_bucket") and "+Inf" not in k}
    return total - le[over_s]


def run(freeze: bool, streams: int, seconds: float, rate: float, sink_port: int,
        workdir: str) -> dict:
    config = f"{workdir}/mediacore-{freeze}.toml"
    with open(config, "w") as f:
        f.write(f'port = {PORT}\ndata_dir = "{workdir}/data-{freeze}"\n'
                'allowed_networks = ["127.0.0.0/8"]\nallow_plain_ws = true\n'
                'rate_limit_per_s = 10000\nrate_limit_burst = 10000\n'
                f'max_streams_per_call = 20\ngc_freeze = {str(freeze).lower()}\n'
                'inactivity_timeout_s = 86400\nlog_level = "WARNING"\n')
    daemon = subprocess.Popen([sys.executable, "-m", "control.cli", "serve", "--config", config],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        auth = None
        for line in daemon.stdout:
            found = re.search(r"curl -u (\w+):(\S+) ", line)
            if found:
                auth = found.group(1), found.group(2)
                break
        assert auth, "the daemon printed no account"
        base = f"http://127.0.0.1:{PORT}/v1/Account/{auth[0]}"
        with httpx.Client(auth=auth, timeout=30) as http:
            calls = [http.post(f"{base}/Call/", json={"from": "+15550100", "to": "+15550199"}
                               ).json()["call_uuid"] for _ in range(-(-streams // 10))]
            serial = 0

            def start(slot: int) -> tuple[str, str]:
                nonlocal serial
                serial += 1
                call = calls[slot // 10]
                r = http.post(f"{base}/Call/{call}/Stream/", json={
                    "service_url": f"ws://127.0.0.1:{sink_port}/fork/{serial}",
                    "content_type": "audio/x-mulaw;rate=8000",
                    "status_callback_url": f"http://127.0.0.1:{PORT}/nowhere"})
                r.raise_for_status()
                return call, r.json()["stream_id"]

            slots = [start(i) for i in range(streams)]
            time.sleep(5)
            before = metrics(http)
            began, n = time.monotonic(), 0
            while time.monotonic() - began < seconds:
                call, stream = slots[n % streams]
                http.delete(f"{base}/Call/{call}/Stream/{stream}/").raise_for_status()
                slots[n % streams] = start(n % streams)
                n += 1
                time.sleep(max(0.0, began + n / rate - time.monotonic()))
            after = metrics(http)
    finally:
        daemon.terminate()
        daemon.wait(60)
    return {
        "streams started": n,
        "full collections": after["mediacore_gc_full_collections_total"]
        - before["mediacore_gc_full_collections_total"],
        "longest ms (since start)": after["mediacore_gc_full_collection_longest_seconds"] * 1000,
        "frozen objects": after.get("mediacore_gc_frozen_objects", 0),
        "ticks": after["mediacore_tick_lateness_seconds_count"]
        - before["mediacore_tick_lateness_seconds_count"],
        "ticks > 20 ms late": late_ticks(after, 0.02) - late_ticks(before, 0.02),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=300)
    parser.add_argument("--churn-s", type=float, default=120.0)
    parser.add_argument("--churn-rate", type=float, default=20.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir, open(f"{workdir}/sink.log", "w+") as log:
        certs = certs_mod.make(workdir)
        sink, port = start_sink("plain", certs, log)
        try:
            for freeze in (False, True):
                result = run(freeze, args.streams, args.churn_s, args.churn_rate, port, workdir)
                print(result_line(f"gc_freeze={str(freeze).lower()}", result), flush=True)
        finally:
            stop_sink(sink)


if __name__ == "__main__":
    main()
