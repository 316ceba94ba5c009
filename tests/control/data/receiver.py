"""A real HTTP/1.1 callback receiver for tests: Trio sockets with h11 for the protocol (so it
runs on MockClock), recording every request and answering from a script of statuses."""

from __future__ import annotations

import dataclasses
from urllib.parse import parse_qsl, urlsplit

import h11
import trio


@dataclasses.dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    at: float  # trio time

    @property
    def fields(self) -> dict[str, str]:
        source = self.body.decode() if self.method == "POST" else urlsplit(self.target).query
        return dict(parse_qsl(source, keep_blank_values=True))


class Receiver:
    """`statuses`: the status of each request in turn (then 200); a status may be a
    (status, headers) pair or a (status, headers, body) triple."""

    def __init__(self, statuses=(), port: int = 0) -> None:
        self.statuses = list(statuses)
        self.port = port
        self.requests: list[Request] = []
        self.changed = trio.Event()

    def url(self, path: str = "/cb") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def serve(self, task_status=trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(self.port, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        task_status.started(self)
        await trio.serve_listeners(self._handle, listeners)

    async def wait_for(self, count: int) -> list[Request]:
        while len(self.requests) < count:
            self.changed = trio.Event()
            await self.changed.wait()
        return self.requests

    async def _handle(self, stream) -> None:
        try:
            await self._serve_connection(stream)
        except trio.BrokenResourceError:
            pass  # the client reset the connection (closing its pool)

    async def _serve_connection(self, stream) -> None:
        conn = h11.Connection(h11.SERVER)
        async with stream:
            while True:
                request, body = None, b""
                while True:
                    event = conn.next_event()
                    if event is h11.NEED_DATA:
                        data = await stream.receive_some(65536)
                        if not data:
                            return
                        conn.receive_data(data)
                    elif isinstance(event, h11.Request):
                        request = event
                    elif isinstance(event, h11.Data):
                        body += event.data
                    elif isinstance(event, h11.EndOfMessage):
                        break
                    elif isinstance(event, h11.ConnectionClosed):
                        return
                self.requests.append(Request(
                    request.method.decode(), request.target.decode(),
                    {k.decode().lower(): v.decode() for k, v in request.headers}, body,
                    trio.current_time()))
                self.changed.set()
                status, headers = self.statuses.pop(0) if self.statuses else 200, []
                answer = b""
                if isinstance(status, tuple):
                    status, headers, answer = (*status, b"")[:3]
                await stream.send_all(conn.send(h11.Response(
                    status_code=status,
                    headers=[("content-length", str(len(answer))), *headers])))
                if answer:
                    await stream.send_all(conn.send(h11.Data(data=answer)))
                await stream.send_all(conn.send(h11.EndOfMessage()))
                if conn.our_state is h11.MUST_CLOSE:
                    return
                conn.start_next_cycle()
