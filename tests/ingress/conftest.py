"""Ingress test fixtures: the engine tests' TLS certificates (trustme)."""

import pytest

from tests.engine.servers import TlsCerts


@pytest.fixture(scope="session")
def certs() -> TlsCerts:
    return TlsCerts()
