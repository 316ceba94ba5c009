"""`python -m benches.fanout.clients NAME PLAN_JSON`: run one client in this process, pinned
to the plan's core, writing into the plan's record (started by the harness)."""

from __future__ import annotations

import logging
import sys
import traceback

from benches.fanout import record as rec
from benches.fanout.clients import load
from benches.fanout.clients.base import Plan
from benches.fanout.limits import pin, raise_nofile, renice


def main() -> int:
    name, plan = sys.argv[1], Plan.from_json(sys.argv[2])
    # what the engine logs (a fork's failure, a retry) goes to the run's log for a post-mortem
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(relativeCreated)d ms %(name)s %(levelname)s %(message)s")
    raise_nofile()
    pin(plan.core)
    renice(plan.nice)
    record = rec.Record(plan.record)
    try:
        load(name).run(plan, record)
    except BaseException:
        record.set(rec.STATUS, rec.FAILED)
        traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
