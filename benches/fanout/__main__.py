"""`python -m benches.fanout`: run the fan-out benchmark and print the summary table.

    python -m benches.fanout                       # every client, ws and wss, 500 forks, 10 s
    python -m benches.fanout --ramp                # largest N per core: p99 <= 5 ms, no loss
    python -m benches.fanout --clients floor,python-nonblocking --transports plain --forks 2000
    python -m benches.fanout --sink python         # the Python sink (sink.py) instead of sink.c

Needs a C compiler (`cc`) and OpenSSL headers for the floor and the C sink (without them the
Python sink runs, said in the log), and the test extra (trio-websocket, websockets, wsproto,
trustme, orjson). The client runs on core 0, the sink and this process on core 1.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import time

from benches.fanout import certs as certs_mod
from benches.fanout import ramp as ramp_mod
from benches.fanout.clients import CLIENTS, unavailable
from benches.fanout.limits import SINK_CORE, pin, raise_nofile
from benches.fanout.record import workdir_parent
from benches.fanout.report import Row, table
from benches.fanout.run import SINKS, Point, run_point, sink_kind


def parse(argv):
    p = argparse.ArgumentParser(prog="python -m benches.fanout", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", default=",".join(CLIENTS),
                   help=f"comma-separated, from: {', '.join(CLIENTS)}")
    p.add_argument("--transports", default="plain,tls", help="plain (ws) and/or tls (wss)")
    p.add_argument("--forks", type=int, default=500, help="forks per run (without --ramp)")
    p.add_argument("--seconds", type=float, default=10.0, help="steady-state seconds per run")
    p.add_argument("--warmup-s", type=float, default=2.0, help="seconds before the window")
    p.add_argument("--ramp", action="store_true", help="find the largest passing N per client")
    p.add_argument("--ramp-start", type=int, default=250)
    p.add_argument("--ramp-limit", type=int, default=12000, help="fds: ~19k per process here")
    p.add_argument("--ramp-resolution", type=float, default=0.05)
    p.add_argument("--nice", type=int, default=0,
                   help="priority of client and sink, e.g. -10 on a shared machine (root)")
    p.add_argument("--sink", choices=SINKS, default="c",
                   help="the receiving side: c (sink.c, cheap enough not to bound the clients) "
                        "or python (sink.py)")
    p.add_argument("--json", help="also write every run's numbers to this file")
    return p.parse_args(argv)


def progress(line: str) -> None:
    sys.stderr.write("\r" + line[:160].ljust(160))
    sys.stderr.flush()


def done(summary) -> None:
    verdict = "pass" if summary.ok else "FAIL"
    sys.stderr.write(f"\r{summary.client:>18} {summary.transport:<5} {summary.forks:>6} forks: "
                     f"{verdict}  loss {summary.loss}  p99 {summary.p99_ms:.2f} ms  "
                     f"CPU {summary.cpu_us_per_frame:.1f} µs/frame  {summary.status}"
                     + (f"  ({summary.first_gap})" if summary.first_gap else "")
                     + " " * 40 + "\n")


def main(argv=None) -> int:
    args = parse(argv)
    # `kill` of the harness still runs the `finally` that stops the sink and the client
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    raise_nofile()
    pin(SINK_CORE)
    clients = [c.strip() for c in args.clients.split(",") if c.strip()]
    transports = [t.strip() for t in args.transports.split(",") if t.strip()]
    sink, note = sink_kind(args.sink)
    if note:
        sys.stderr.write(note + "\n")
    rows, runs = [], []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fanout-", dir=workdir_parent()) as workdir:
        certs = certs_mod.make(workdir)

        def measure(client, transport, forks):
            summary = run_point(Point(client, transport, forks, args.seconds, args.warmup_s,
                                      args.nice, sink), certs, workdir, progress)
            done(summary)
            runs.append(summary)
            if args.json:  # after every run: a long ramp that is stopped keeps what it did
                with open(args.json, "w") as out:
                    json.dump([dict(vars(s), loss=s.loss, ok=s.ok, sink=sink) for s in runs],
                              out, indent=1, default=float)
            return summary

        for transport in transports:
            for client in clients:
                reason = unavailable(client, transport)
                if reason:
                    rows.append(Row(client, transport, None, note=f"not available: {reason}"))
                    sys.stderr.write(f"{client:>18} {transport:<5} not available: {reason}\n")
                    continue
                if not args.ramp:
                    rows.append(Row(client, transport, measure(client, transport, args.forks)))
                    continue
                best = {}

                def passes(n, client=client, transport=transport, best=best):
                    summary = measure(client, transport, n)
                    if summary.ok:
                        best[n] = summary
                    return summary.ok

                n = ramp_mod.largest_passing(passes, start=args.ramp_start,
                                             limit=args.ramp_limit,
                                             resolution=args.ramp_resolution)
                rows.append(Row(client, transport, best.get(n), sustained=n,
                                note="" if n else "fails even at the smallest N"))
    print(f"\nfan-out: {'ramp' if args.ramp else f'{args.forks} forks'}, "
          f"{args.seconds:g} s steady after {args.warmup_s:g} s warm-up, {sink} sink, "
          f"{time.monotonic() - started:.0f} s in all\n")
    print(table(rows, args.ramp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
