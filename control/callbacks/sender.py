"""Delivers the status callback outbox (SPEC §4): at least once, in order per stream.

Theory of operation. The outbox rows are written (committed) by the control plane before
`notify(stream_id)` is called, so nothing is sent that a crash could forget. One worker task
per stream with pending rows takes the stream's oldest pending row, delivers it (retrying as
below) and only then takes the next: a stream's callbacks arrive in the order they were
written, and a callback that is being retried holds back the ones after it. Streams are
independent of one another. On start (`run`) every stream with pending rows of this node gets
a worker, which is how callbacks survive a restart.

A worker exits when its stream has nothing pending; `notify` either wakes nothing (a worker
is running and will find the row: the `_dirty` mark makes it look again) or starts one.

Each attempt: the URL's host must resolve only to addresses the callback policy admits
(checked again at every attempt, since DNS can change after the stream started); a fresh
nonce and signature (signature.py); `X-Callback-ID` is the row's id, the same on every
retry. Outcome:
- 2xx: delivered.
- network error, timeout, 408, 429, 5xx: retried after min(2^(n-1) s, 300 s) for attempt n,
  with jitter (x0.5..1), or the Retry-After of a 429/503 when longer (capped at 300 s);
  given up (failed, logged) when the next try would be more than `retry_max_s` after the
  callback was written.
- any other status (other 4xx, 3xx: redirects are not followed, they could lead past the
  address rules), or an address the policy refuses: failed at once, logged.
Attempts and the last error are written to the row, so operators can see them.
"""

from __future__ import annotations

import ipaddress
import logging
import random
import socket
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import httpx
import trio

from control.callbacks import signature
from mediacore.engine import InvalidParameter, UrlPolicy

log = logging.getLogger("control.callbacks")

FIRST_DELAY_S = 1.0
MAX_DELAY_S = 300.0
ATTEMPT_TIMEOUT_S = 10.0
RETRY_STATUSES = frozenset({408, 429})
USER_AGENT = "mediacore-callbacks/0.1"


class _Retry(Exception):
    def __init__(self, error: str, retry_after_s: float | None = None) -> None:
        super().__init__(error)
        self.retry_after_s = retry_after_s


class _GiveUp(Exception):
    pass


class CallbackSender:
    def __init__(self, store, *, node_id: str, policy: UrlPolicy,
                 token_for: Callable[[str], Awaitable[str | None]],
                 now_us: Callable[[], int], retry_max_s: float = 3600.0, http2: bool = True,
                 rng: random.Random | None = None,
                 attempt_timeout_s: float = ATTEMPT_TIMEOUT_S) -> None:
        self.store = store
        self.node_id = node_id
        self.policy = policy
        self.token_for = token_for
        self.now_us = now_us
        self.retry_max_s = retry_max_s
        self.http2 = http2
        self.random = rng or random.Random()
        self.attempt_timeout_s = attempt_timeout_s
        self.delivered = 0
        self.failed = 0
        self._nursery: trio.Nursery | None = None
        self._client: httpx.AsyncClient | None = None
        self._active: set[str] = set()
        self._dirty: set[str] = set()
        self._waiting: list[str] = []  # notified before run() started

    # -- control ------------------------------------------------------------------------------

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        async with httpx.AsyncClient(http2=self.http2, follow_redirects=False,
                                     timeout=self.attempt_timeout_s,
                                     headers={"User-Agent": USER_AGENT}) as client:
            self._client = client
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                for stream_id in await self.store.streams_with_pending_callbacks(self.node_id):
                    self.notify(stream_id)
                for stream_id in self._waiting:
                    self.notify(stream_id)
                self._waiting.clear()
                task_status.started()
                await trio.sleep_forever()

    def notify(self, stream_id: str) -> None:
        """A row of `stream_id` was committed to the outbox."""
        if self._nursery is None:
            self._waiting.append(stream_id)
        elif stream_id in self._active:
            self._dirty.add(stream_id)
        else:
            self._active.add(stream_id)
            self._nursery.start_soon(self._worker, stream_id)

    @property
    def active_streams(self) -> int:
        return len(self._active)

    # -- delivery -----------------------------------------------------------------------------

    async def _worker(self, stream_id: str) -> None:
        try:
            while True:
                self._dirty.discard(stream_id)
                row = await self.store.next_callback(self.node_id, stream_id)
                if row is None:
                    if stream_id in self._dirty:
                        continue
                    return
                await self._deliver(row)
        finally:
            self._active.discard(stream_id)

    async def _deliver(self, row: dict) -> None:
        attempts = row["attempts"]
        while True:
            attempts += 1
            try:
                await self._attempt(row)
            except _GiveUp as exc:
                await self._done(row, False, attempts, str(exc))
                return
            except _Retry as exc:
                delay = self._delay(attempts, exc.retry_after_s)
                waited_s = (self.now_us() - row["created_at_us"]) / 1e6
                if waited_s + delay > self.retry_max_s:
                    await self._done(row, False, attempts, f"gave up after {attempts} attempts "
                                                           f"over {waited_s:.0f} s: {exc}")
                    return
                log.info("callback %s to %s: attempt %d failed (%s); next in %.1f s",
                         row["callback_id"], row["url"], attempts, exc, delay)
                await self.store.callback_attempted(row["id"], attempts, str(exc))
                await trio.sleep(delay)
            else:
                await self._done(row, True, attempts)
                return

    async def _done(self, row: dict, delivered: bool, attempts: int, error: str = "") -> None:
        if delivered:
            self.delivered += 1
        else:
            self.failed += 1
            log.warning("callback %s (%s of stream %s) to %s failed: %s", row["callback_id"],
                        row["fields"].get("Event"), row["stream_id"], row["url"], error)
        await self.store.callback_done(row["id"], delivered=delivered, attempts=attempts,
                                       at_us=self.now_us(), error=error)

    def _delay(self, attempts: int, retry_after_s: float | None) -> float:
        delay = min(MAX_DELAY_S, FIRST_DELAY_S * 2 ** (attempts - 1))
        delay *= 0.5 + 0.5 * self.random.random()
        if retry_after_s is not None:
            delay = max(delay, min(retry_after_s, MAX_DELAY_S))
        return delay

    async def _attempt(self, row: dict) -> None:
        url, method, fields = row["url"], row["method"], row["fields"]
        await self._check_address(url)
        token = await self.token_for(row["account_id"])
        if token is None:
            raise _GiveUp(f"account {row['account_id']} no longer exists")
        headers = {"X-Callback-ID": row["callback_id"],
                   **signature.headers(token, method, url, fields)}
        try:
            if method == "GET":
                # the URL's own query stays; the fields are added to it (params= alone
                # would replace it)
                target = httpx.URL(url).copy_merge_params(fields)
                response = await self._client.get(target, headers=headers)
            else:
                response = await self._client.post(url, data=fields, headers=headers)
            await response.aclose()
        except httpx.TransportError as exc:
            raise _Retry(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        except httpx.InvalidURL as exc:
            raise _GiveUp(f"invalid URL: {exc}")
        status = response.status_code
        if 200 <= status < 300:
            return
        if status in RETRY_STATUSES or status >= 500:
            raise _Retry(f"HTTP {status}", _retry_after(response))
        raise _GiveUp(f"HTTP {status}" + (" (redirects are not followed)"
                                          if 300 <= status < 400 else ""))

    async def _check_address(self, url: str) -> None:
        """Every address the host resolves to must be admitted (a name that resolves to one
        public and one private address is refused: the client could pick either)."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        try:
            ipaddress.ip_address(host.split("%")[0])
            addresses = [host]
        except ValueError:
            try:
                infos = await trio.socket.getaddrinfo(host, parts.port or 443,
                                                      type=socket.SOCK_STREAM)
            except socket.gaierror as exc:
                raise _Retry(f"cannot resolve {host}: {exc.strerror}") from None
            addresses = sorted({info[4][0] for info in infos})
        for address in addresses:
            try:
                self.policy.check_address("status_callback_url", address)
            except InvalidParameter as exc:
                raise _GiveUp(str(exc)) from None


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    return float(value) if value.isdigit() else None
