"""Schema migrations: a numbered list of steps and a one-row-per-step version table.

Why not alembic: the schema is four tables, the migrations must run inside `open_store` on
both SQLite and PostgreSQL without a command-line step or a config file, and a numbered list
of functions does that in forty lines with no new dependency. Each step runs in its own
transaction together with its version row, so a crash leaves either the old or the new
version, never half of one. On PostgreSQL an advisory lock makes concurrent starts (several
daemons on one database) apply each step once.

Rule for changing the schema: never edit a step that has shipped; add step N+1 with the DDL
that turns version N into N+1 (for example `ALTER TABLE ... ADD COLUMN`), and update
schema.py to the result. Step 1 creates the tables of schema.py as they stood at version 1;
when the first later step lands, step 1's tables are frozen into this file.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import Connection, select, text

from control.store import schema

_ADVISORY_LOCK_KEY = 0x6D656469  # "medi": one key for mediacore's migrations


def _v1(conn: Connection) -> None:
    schema.metadata.create_all(conn, tables=[schema.accounts, schema.calls, schema.streams,
                                             schema.outbox])


MIGRATIONS: list[tuple[int, Callable[[Connection], None]]] = [
    (1, _v1),
]
LATEST = MIGRATIONS[-1][0]


def current_version(conn: Connection) -> int:
    schema.schema_version.create(conn, checkfirst=True)
    return conn.execute(select(schema.schema_version.c.version)
                        .order_by(schema.schema_version.c.version.desc())
                        .limit(1)).scalar() or 0


def migrate(engine) -> int:
    """Bring the database to the latest version; returns the version it was at before.
    Refuses a database newer than this code knows (a downgrade would lose data)."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK_KEY})
        before = current_version(conn)
    if before > LATEST:
        raise RuntimeError(f"the database is at schema version {before}, newer than this "
                           f"mediacore knows ({LATEST}); upgrade mediacore")
    for version, step in MIGRATIONS:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"),
                             {"k": _ADVISORY_LOCK_KEY})
            if current_version(conn) >= version:
                continue
            step(conn)
            conn.execute(schema.schema_version.insert().values(
                version=version, applied_at_us=int(time.time() * 1_000_000)))
    return before
