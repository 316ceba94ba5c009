"""Instructions per forked frame in the fan-out kernel, for callgrind (repeatable on a busy
machine, unlike time): 100 plain forks over real loopback connections, 50 warm-up ticks,
then 200 measured ones, the receivers drained every 20 ticks.

    valgrind --tool=callgrind --callgrind-out-file=fanout.cg python3 -m benches.fanout_instructions
    callgrind_annotate --inclusive=yes fanout.cg | grep fan_out_c   # / (250 ticks x 100 forks)

(`python3` must be the interpreter itself, not a shell shim such as pyenv's.)
"""

from __future__ import annotations

from benches.bench_fanout_kernel import FRAME, T0, _close, _links, _writers
from mediacore._native.fanout import fan_out

TICKS = 250
DRAIN_EVERY = 20


def main() -> None:
    links = _links(None, None)
    writers = _writers(links)
    try:
        for t in range(TICKS):
            if t % DRAIN_EVERY == 0:
                for link in links:
                    link.drain()
            slow = fan_out(writers, T0 + 20 * t, FRAME, FRAME)
            assert slow is None, [w.outcome for w in slow]
    finally:
        _close(links)
    print(f"{TICKS} ticks x {len(writers)} forks = {TICKS * len(writers)} frames")


if __name__ == "__main__":
    main()
