"""`Store`: every read and write of the control plane's durable state, one transaction each.

Each method runs its transaction in a worker thread (`trio.to_thread.run_sync`) under a
CapacityLimiter (1 thread for SQLite, whose writers serialize anyway; a few for PostgreSQL).
`threads=0` runs them on the Trio thread instead: for tests on MockClock, where a worker
thread would let the clock jump while a query runs.
The thread call is not abandoned on cancellation: a write that has begun completes, so a
cancelled caller never leaves a half-known state. Rows are returned as plain dicts.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import trio
from sqlalchemy import Connection, Engine, and_, func, select

from control.accounts import TokenBox
from control.store import schema

S = schema
OPEN_STATUSES = ("initiated", "in-progress")


class Store:
    def __init__(self, engine: Engine, token_box: TokenBox, *, threads: int = 1) -> None:
        self.engine = engine
        self.tokens = token_box
        self.dialect = engine.dialect.name
        self.inline = threads == 0
        self._limiter = trio.CapacityLimiter(max(1, threads))
        self.closed = False

    async def _tx(self, fn: Callable[..., Any], *args) -> Any:
        """Run fn(connection, *args) in one transaction, off the Trio thread."""
        if self.closed:
            raise RuntimeError("the store is closed")

        def work():
            with self.engine.begin() as conn:
                return fn(conn, *args)
        if self.inline:
            await trio.lowlevel.checkpoint()
            return work()
        return await trio.to_thread.run_sync(work, limiter=self._limiter)

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            await trio.to_thread.run_sync(self.engine.dispose, limiter=self._limiter)

    def close_sync(self) -> None:
        self.closed = True
        self.engine.dispose()

    # -- accounts -----------------------------------------------------------------------------

    async def add_account(self, row: dict) -> None:
        await self._tx(_insert, S.accounts, [row])

    async def get_account(self, auth_id: str) -> dict | None:
        return await self._tx(_one, select(S.accounts).where(S.accounts.c.auth_id == auth_id))

    # -- calls --------------------------------------------------------------------------------

    async def add_call(self, row: dict) -> None:
        await self._tx(_insert, S.calls, [row])

    async def update_call(self, call_uuid: str, values: dict) -> None:
        await self._tx(_update, S.calls, S.calls.c.call_uuid == call_uuid, values)

    async def get_call(self, call_uuid: str) -> dict | None:
        return await self._tx(_one, select(S.calls).where(S.calls.c.call_uuid == call_uuid))

    async def list_calls(self, account_id: str, *, status: str | None = "live") -> list[dict]:
        query = select(S.calls).where(S.calls.c.account_id == account_id)
        if status is not None:
            query = query.where(S.calls.c.status == status)
        return await self._tx(_all, query.order_by(S.calls.c.created_at_us))

    async def list_calls_of_node(self, node_id: str) -> list[dict]:
        """Calls this node left live."""
        return await self._tx(_all, select(S.calls).where(S.calls.c.node_id == node_id,
                                                          S.calls.c.status == "live"))

    # -- streams ------------------------------------------------------------------------------

    async def add_stream(self, row: dict) -> None:
        await self._tx(_insert, S.streams, [row])

    async def update_stream(self, stream_id: str, values: dict,
                            callbacks: Iterable[dict] = ()) -> None:
        """Update a stream and add its callbacks to the outbox, in one transaction (the state
        and the callback that reports it are never apart)."""
        await self._tx(_update_with_callbacks, stream_id, values, list(callbacks))

    async def checkpoint(self, updates: list[tuple[str, dict]]) -> None:
        """Metering checkpoint of many live streams in one transaction."""
        if updates:
            await self._tx(_checkpoint, updates)

    async def get_stream(self, stream_id: str) -> dict | None:
        return await self._tx(_one, select(S.streams).where(S.streams.c.stream_id == stream_id))

    async def list_streams(self, account_id: str, call_uuid: str, *, status: str | None,
                           limit: int, offset: int) -> tuple[list[dict], int]:
        where = and_(S.streams.c.account_id == account_id, S.streams.c.call_uuid == call_uuid)
        if status is not None:
            where = and_(where, S.streams.c.status == status)
        return await self._tx(_page, where, limit, offset)

    async def open_streams(self, node_id: str) -> list[dict]:
        """Streams this node left open (initiated or in-progress)."""
        return await self._tx(_all, select(S.streams).where(
            S.streams.c.node_id == node_id, S.streams.c.status.in_(OPEN_STATUSES)))

    async def ended_streams(self, account_id: str, from_us: int | None,
                            to_us: int | None) -> list[dict]:
        """Billing columns of the account's streams that ended in [from, to)."""
        c = S.streams.c
        query = select(c.stream_id, c.bill_duration, c.rounded_bill_duration,
                       c.billed_amount).where(c.account_id == account_id,
                                              c.end_time_us.is_not(None))
        if from_us is not None:
            query = query.where(c.end_time_us >= from_us)
        if to_us is not None:
            query = query.where(c.end_time_us < to_us)
        return await self._tx(_all, query)

    # -- callback outbox ----------------------------------------------------------------------

    async def add_callbacks(self, rows: list[dict]) -> None:
        if rows:
            await self._tx(_insert, S.outbox, [_outbox_row(r) for r in rows])

    async def next_callback(self, node_id: str, stream_id: str) -> dict | None:
        """The oldest pending callback of a stream (the one that must go next)."""
        o = S.outbox.c
        row = await self._tx(_one, select(S.outbox).where(
            o.node_id == node_id, o.stream_id == stream_id, o.status == "pending"
        ).order_by(o.id).limit(1))
        if row is not None:
            row["fields"] = json.loads(row["fields"])
        return row

    async def streams_with_pending_callbacks(self, node_id: str) -> list[str]:
        o = S.outbox.c
        return await self._tx(_scalars, select(o.stream_id).where(
            o.node_id == node_id, o.status == "pending").group_by(o.stream_id)
            .order_by(func.min(o.id)))

    async def callback_attempted(self, row_id: int, attempts: int, error: str) -> None:
        await self._tx(_update, S.outbox, S.outbox.c.id == row_id,
                       {"attempts": attempts, "last_error": error})

    async def callback_done(self, row_id: int, *, delivered: bool, attempts: int,
                            at_us: int, error: str = "") -> None:
        await self._tx(_update, S.outbox, S.outbox.c.id == row_id,
                       {"status": "delivered" if delivered else "failed",
                        "attempts": attempts, "done_at_us": at_us, "last_error": error})

    async def callbacks(self, *, stream_id: str | None = None) -> list[dict]:
        """Outbox rows (all, or one stream's), in order; for tests and operators."""
        query = select(S.outbox).order_by(S.outbox.c.id)
        if stream_id is not None:
            query = query.where(S.outbox.c.stream_id == stream_id)
        rows = await self._tx(_all, query)
        for row in rows:
            row["fields"] = json.loads(row["fields"])
        return rows

    async def pending_callbacks(self, node_id: str | None = None) -> int:
        query = select(func.count()).select_from(S.outbox).where(S.outbox.c.status == "pending")
        if node_id is not None:
            query = query.where(S.outbox.c.node_id == node_id)
        return await self._tx(_scalar, query)


# -- the transactions (run in the worker thread) ------------------------------------------------

def _insert(conn: Connection, table, rows: list[dict]) -> None:
    conn.execute(table.insert(), rows)


def _update(conn: Connection, table, where, values: dict) -> None:
    conn.execute(table.update().where(where).values(**values))


def _one(conn: Connection, query) -> dict | None:
    row = conn.execute(query).mappings().first()
    return dict(row) if row is not None else None


def _all(conn: Connection, query) -> list[dict]:
    return [dict(r) for r in conn.execute(query).mappings()]


def _scalar(conn: Connection, query):
    return conn.execute(query).scalar()


def _scalars(conn: Connection, query) -> list:
    return list(conn.execute(query).scalars())


def _page(conn: Connection, where, limit: int, offset: int) -> tuple[list[dict], int]:
    c = S.streams.c
    total = conn.execute(select(func.count()).select_from(S.streams).where(where)).scalar()
    rows = _all(conn, select(S.streams).where(where)
                .order_by(c.created_at_us, c.stream_id).limit(limit).offset(offset))
    return rows, total


def _update_with_callbacks(conn: Connection, stream_id: str, values: dict,
                           callbacks: list[dict]) -> None:
    if values:
        conn.execute(S.streams.update().where(S.streams.c.stream_id == stream_id)
                     .values(**values))
    if callbacks:
        conn.execute(S.outbox.insert(), [_outbox_row(r) for r in callbacks])


def _checkpoint(conn: Connection, updates: list[tuple[str, dict]]) -> None:
    c = S.streams.c
    for stream_id, values in updates:
        # never rewrite a stream that has ended meanwhile (its final values are written)
        conn.execute(S.streams.update().where(c.stream_id == stream_id,
                                              c.status.in_(OPEN_STATUSES)).values(**values))


def _outbox_row(row: dict) -> dict:
    row = dict(row)
    if not isinstance(row["fields"], str):
        row["fields"] = json.dumps(row["fields"], sort_keys=True)
    row.setdefault("status", "pending")
    return row


