"""Smoke run of the fan-out harness (benches/fanout; the measurement is `python -m
benches.fanout`, see benches/README.md "Fan-out"): 20 forks for about a second with each
client that can run here, against the real sink in its own process, ws and wss. It asserts
what must hold on any machine (every frame delivered, in order, the run completed), not
lateness or CPU, which depend on the machine's load."""

import pytest

from benches.fanout.certs import make
from benches.fanout.clients import CLIENTS, unavailable
from benches.fanout.run import Point, run_point

CASES = [(c, t) for t in ("plain", "tls") for c in CLIENTS
         if t == "plain" or c in ("python-nonblocking", "floor")]


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make(str(tmp_path_factory.mktemp("fanout-certs")))


@pytest.mark.parametrize("client, transport", CASES)
def test_fanout_smoke(client, transport, certs, tmp_path):
    reason = unavailable(client, transport)
    if reason:
        pytest.skip(reason)
    summary = run_point(Point(client, transport, forks=20, seconds=0.8, warmup_s=0.2), certs,
                        str(tmp_path), progress=lambda line: None)
    assert summary.status == "done", summary.first_gap
    assert (summary.loss, summary.order_errors, summary.first_gap) == (0, 0, None)
    assert summary.frames_written == 20 * 50
    assert summary.cpu_us_per_frame > 0
