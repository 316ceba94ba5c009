"""The control plane's durable state: accounts, calls, streams, the callback outbox.

    store = open_store("sqlite:///var/lib/mediacore/mediacore.db")   # or postgresql+psycopg://
    await store.add_account(...); ...; await store.close()

Decisions (the SPEC is silent on these):

- One `Store` over SQLAlchemy Core 2.x, the same queries on SQLite (the default: a file) and
  PostgreSQL (`postgresql+psycopg://`, for several daemons sharing state). Every call runs
  one transaction in a worker thread under a CapacityLimiter (store.py).
- Schema (schema.py): `accounts`, `calls`, `streams` (every field of the SPEC §2.2 Stream
  object, plus `forked_ms`/`checkpoint_us`, the last metering checkpoint, and `node_id`, the
  process that runs the stream), `callback_outbox`. Times are integer microseconds since the
  epoch (UTC); decimals are strings. No foreign keys: streams outlive the calls they came from.
- Migrations (migrations.py): a numbered list of steps and a version table, applied on open,
  each step in one transaction; PostgreSQL serializes concurrent openers with an advisory
  lock. Alembic was not taken: no command-line step, no config file, no new dependency for
  four tables.
- Auth tokens at rest (accounts.py): SHA-256 hash for the constant-time check, and sealed
  with the server secret (Fernet) because signatures need the plaintext as HMAC key. The
  secret (secret.py) is `secret=` (a Fernet key) or read from `secret_path`; for a SQLite file
  it defaults to `mediacore.secret` beside the database, created (0600) on first start. A
  PostgreSQL store needs the secret or its path given: keys in the same database would
  protect nothing, and every daemon sharing the database must use the same one.
- SQLite runs in WAL mode with `synchronous=FULL`: a committed outbox row survives a crash
  and a power cut (callbacks and final metering are few; checkpoints are batched).
"""

from __future__ import annotations

import os
import pathlib

from cryptography.fernet import Fernet
from sqlalchemy import create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from control.accounts import TokenBox
from control.store import secret as secret_file
from control.store.migrations import LATEST, migrate
from control.store.store import Store

__all__ = ["LATEST", "Store", "open_store", "SECRET_FILE_NAME"]

SECRET_FILE_NAME = "mediacore.secret"
POSTGRES_THREADS = 4


def open_store(url: str, *, secret: bytes | str | None = None,
               secret_path: str | os.PathLike | None = None,
               threads: int | None = None) -> Store:
    """Open (creating and migrating as needed) the store at `url`. Blocks: call it before
    serving, or through `trio.to_thread.run_sync`. `threads`: worker threads for queries
    (default 1 for SQLite, 4 for PostgreSQL; 0 runs them on the Trio thread, for MockClock
    tests)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database or ""
        memory = database in ("", ":memory:")
        if memory:
            engine = create_engine(url, poolclass=StaticPool,
                                   connect_args={"check_same_thread": False})
        else:
            pathlib.Path(database).expanduser().resolve().parent.mkdir(parents=True,
                                                                       exist_ok=True)
            engine = create_engine(url, connect_args={"check_same_thread": False,
                                                      "timeout": 30})
            if secret is None and secret_path is None:
                secret_path = pathlib.Path(database).expanduser().resolve().with_name(
                    SECRET_FILE_NAME)
        event.listen(engine, "connect", _sqlite_pragmas)
        if memory and secret is None and secret_path is None:
            secret = Fernet.generate_key()  # nothing outlives an in-memory database
        threads = 1 if threads is None else threads
    elif backend == "postgresql":
        if secret is None and secret_path is None:
            raise ValueError("a PostgreSQL store needs the server secret: pass secret= or "
                             "secret_path= (every daemon sharing the database uses the same)")
        threads = POSTGRES_THREADS if threads is None else threads
        engine = create_engine(url, pool_pre_ping=True, pool_size=max(1, threads))
    else:
        raise ValueError(f"unsupported store URL {parsed.render_as_string()!r}: use "
                         f"sqlite:///path/to/file.db or postgresql+psycopg://...")
    key = secret if secret is not None else secret_file.load_or_create(secret_path)
    box = TokenBox(key.encode() if isinstance(key, str) else key)
    try:
        migrate(engine)
    except BaseException:
        engine.dispose()
        raise
    return Store(engine, box, threads=threads)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
