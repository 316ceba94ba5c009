"""Engine test fixtures: TLS certificates (trustme), and a runner for Trio tests on MockClock."""

import pytest
import trio
import trio.testing

from tests.engine.servers import TlsCerts


@pytest.fixture(scope="session")
def certs() -> TlsCerts:
    return TlsCerts()


def run_mock(fn, *args):
    """Run `fn` under Trio with a MockClock that jumps whenever every task is blocked (loopback
    sockets deliver within the send call, so no data is in flight when the clock jumps)."""
    return trio.run(fn, *args, clock=trio.testing.MockClock(autojump_threshold=0))
