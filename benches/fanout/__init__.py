"""Fan-out benchmark (issue 5, acceptance point 7): how many forks one core carries.

Theory of operation. The harness (`python -m benches.fanout`) starts a WebSocket sink in its
own process on one core and a client in another process pinned to the other core. The client
connects N forks to the sink, sends `start` on each, then runs one 20 ms tick grid (tick n due
at t0 + n * 20 ms on the monotonic clock) and writes one Plivo `media` message (160 B μ-law)
per fork per tick. It records the time every send call returned into a shared file
(`record.Record`, tick-major float64 seconds), and its process CPU time over the steady-state
window (after the warm-up ticks). The sink checks each connection's numbering and counts media
messages. Lateness of frame n = write time - (the fork's first write time + n * 20 ms);
a run passes when p99 lateness <= 5 ms and the sink received every frame, in order.

Units: times in seconds inside the record, lateness reported in ms, CPU in µs per frame.
"""
