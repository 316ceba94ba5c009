"""Fixtures of the control plane's data half: stores on SQLite and PostgreSQL, TLS
certificates, and a Trio runner on MockClock.

`store_url` is parametrized over both databases. PostgreSQL comes from
MEDIACORE_TEST_POSTGRES_URL (CI starts a cluster) or from a cluster this session starts;
when neither is possible the PostgreSQL cases skip locally and fail in CI (`CI` set).
"""

from __future__ import annotations

import base64
import os

import pytest
import sqlalchemy

from tests.control.data import postgres
from tests.engine.servers import TlsCerts

PG_SECRET = base64.urlsafe_b64encode(b"k" * 32)  # a fixed Fernet key for PostgreSQL tests


@pytest.fixture(scope="session")
def certs() -> TlsCerts:
    return TlsCerts()


@pytest.fixture(scope="session")
def postgres_server():
    url = os.environ.get(postgres.ENV)
    cluster = None
    problem = ""
    if not url:
        bin_dir = postgres.binaries()
        if bin_dir is None:
            problem = "no PostgreSQL binaries under /usr/lib/postgresql"
        else:
            try:
                cluster = postgres.Cluster(bin_dir).start()
                url = cluster.url
            except Exception as exc:  # reported below, never swallowed in CI
                problem = f"cannot start a PostgreSQL cluster: {exc!r}"
    if url:
        try:
            engine = sqlalchemy.create_engine(url)
            with engine.connect() as conn:
                conn.execute(sqlalchemy.text("SELECT 1"))
            engine.dispose()
        except Exception as exc:
            problem, url = f"PostgreSQL at {url} is unreachable: {exc!r}", None
    try:
        yield url, problem
    finally:
        if cluster is not None:
            cluster.stop()


def _fresh_postgres(url: str) -> None:
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(sqlalchemy.text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """(url, open_store keyword arguments) of an empty database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'mediacore.db'}", {}
    url, problem = request.getfixturevalue("postgres_server")
    if url is None:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI: {problem}")
        pytest.skip(problem)
    _fresh_postgres(url)
    return url, {"secret": PG_SECRET}
