"""`mediacore serve`: the engine, the store, the control plane, the ingress (when
`mediacore.engine.IngressHub` exists) and the REST API on Hypercorn's Trio worker, in one
Trio run.

    settings = config.load(path)
    await daemon.run(settings, shutdown=event, task_status=...)   # started(Running)

Start-up order: store (migrations) -> engine -> ingress -> control plane (recovery of what a
previous process left open, then event consumption) -> HTTP. Shutdown when `shutdown` is set
(the CLI sets it on SIGTERM / SIGINT): HTTP stops accepting and finishes in-flight requests,
then `plane.drain()` stops every stream (`stop`, close 1000, final metering, callbacks in
the outbox), then the plane, ingress and engine are cancelled and the store closed.

HTTP: plain HTTP/1.1 and HTTP/2 cleartext (h2c by prior knowledge or Upgrade) on `port`;
with `tls_cert`/`tls_key` the same port speaks TLS with ALPN h2 / http/1.1, and
`plain_port` may add a plain listener beside it.
"""

from __future__ import annotations

import dataclasses
import logging
import pathlib
from typing import Any

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve as hypercorn_serve

import mediacore.engine as engine_api
from control.api import ApiConfig, create_app, h2_fix
from control.config import Settings
from control.metrics import Metrics
from mediacore.engine import Engine, UrlPolicy

log = logging.getLogger("control.daemon")

HTTP_GRACE_S = 5.0


@dataclasses.dataclass
class Running:
    """What a started daemon gives its caller (tests, the demo)."""

    urls: list[str]
    engine: Engine
    plane: Any
    store: Any
    settings: Settings
    first_account: tuple[str, str] | None = None   # (auth_id, token) made on first start

    def url(self, scheme: str = "http") -> str:
        return next(u for u in self.urls if u.startswith(scheme + "://"))


def url_policy(settings: Settings) -> UrlPolicy:
    return UrlPolicy.allowing(*settings.allowed_networks, plain_ws=settings.allow_plain_ws)


def open_store(settings: Settings):
    from control.store import open_store as open_
    return open_(settings.store_url, secret=settings.secret, secret_path=settings.secret_path)


def make_plane(engine: Engine, store, settings: Settings, ingress=None):
    from control.service import ControlPlane
    return ControlPlane(engine, store, callback_policy=url_policy(settings),
                        default_rate_per_minute=settings.default_rate_per_minute,
                        account_rates=settings.rates_by_account,
                        checkpoint_interval_s=settings.checkpoint_interval_s,
                        callback_retry_max_s=settings.callback_retry_max_s,
                        ingress=ingress, http2=settings.callback_http2)


def make_ingress(engine: Engine, settings: Settings, on_call_ended=None):
    """The RTP / AudioSocket hub, or None while mediacore.engine has none."""
    hub = getattr(engine_api, "IngressHub", None)
    if hub is None:
        log.warning("this mediacore has no call ingress (mediacore.engine.IngressHub): "
                    "calls cannot be registered over RTP or AudioSocket")
        return None
    return hub(engine, rtp_host=settings.rtp_host,
               rtp_ports=(settings.rtp_port_min, settings.rtp_port_max),
               advertised_host=settings.rtp_advertised_host,
               audiosocket_host=settings.audiosocket_host,
               audiosocket_port=settings.audiosocket_port,
               inactivity_timeout_s=settings.inactivity_timeout_s,
               on_call_ended=on_call_ended)


def hypercorn_config(settings: Settings) -> HypercornConfig:
    config = HypercornConfig()
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    config.bind = [f"{host}:{settings.port}"]
    if settings.tls_cert is not None:
        config.certfile = settings.tls_cert
        config.keyfile = settings.tls_key
        config.alpn_protocols = ["h2", "http/1.1"]
        if settings.plain_port is not None:
            config.insecure_bind = [f"{host}:{settings.plain_port}"]
    config.accesslog = logging.getLogger("hypercorn.access")
    config.errorlog = logging.getLogger("hypercorn.error")
    config.access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(D)sus'
    config.graceful_timeout = HTTP_GRACE_S
    config.include_server_header = False
    return config


async def run(settings: Settings, *, shutdown: trio.Event | None = None, plane_factory=None,
              create_first_account: bool = False,
              task_status=trio.TASK_STATUS_IGNORED) -> None:
    """Run the daemon until `shutdown` is set, then drain and return."""
    shutdown = shutdown if shutdown is not None else trio.Event()
    fresh = _fresh_sqlite(settings)
    store = await trio.to_thread.run_sync(open_store, settings)
    try:
        async with Engine(policy=url_policy(settings), ca_file=settings.ca_file,
                          max_streams=settings.max_streams,
                          max_streams_per_call=settings.max_streams_per_call) as engine:
            await _serve(settings, engine, store, shutdown, plane_factory or make_plane,
                         create_first_account and fresh, task_status)
    finally:
        await store.close()
    log.info("stopped")


async def _serve(settings, engine, store, shutdown, plane_factory, first, task_status):
    planes = []

    def call_ended(call_id: str, reason: str) -> None:
        # the ingress ended a call by itself; the plane (built after the hub) records it
        handler = getattr(planes[0], "on_call_ended", None) if planes else None
        if handler is not None:
            handler(call_id, reason)

    ingress = make_ingress(engine, settings, call_ended)
    plane = plane_factory(engine, store, settings, ingress)
    planes.append(plane)
    draining = False

    async def health() -> dict:
        streams = [s for s in engine.list() if not s.status.ended]
        return {"status": "draining" if draining else "ok",
                "active_calls": len(engine.calls), "active_streams": len(streams)}

    metrics = Metrics(engine, getattr(plane, "callback_queue_depth", None))
    app = create_app(plane, ApiConfig(body_limit_bytes=settings.body_limit_bytes,
                                      rate_limit_per_s=settings.rate_limit_per_s,
                                      rate_limit_burst=settings.rate_limit_burst),
                     health=health, metrics=metrics.render)
    async with trio.open_nursery() as nursery:
        if ingress is not None:
            await nursery.start(ingress.run)
        await nursery.start(plane.run)
        first_account = None
        if first:
            account, token = await plane.create_account()
            first_account = (account.auth_id, token)
        stop_http = trio.Event()
        http_done = trio.Event()
        urls = await nursery.start(_http, app, hypercorn_config(settings), stop_http, http_done)
        for url in urls:
            log.info("listening", extra={"url": url})
        task_status.started(Running(urls, engine, plane, store, settings, first_account))
        await shutdown.wait()
        draining = True
        log.info("shutting down: no new requests, draining streams")
        stop_http.set()
        await http_done.wait()
        await plane.drain()
        log.info("drained")
        nursery.cancel_scope.cancel()


async def _http(app, config, stop: trio.Event, done: trio.Event,
                task_status=trio.TASK_STATUS_IGNORED) -> None:
    h2_fix.install()
    try:
        await hypercorn_serve(app, config, shutdown_trigger=stop.wait, task_status=task_status)
    finally:
        done.set()


def _fresh_sqlite(settings: Settings) -> bool:
    """True when the store is a SQLite file that does not exist yet (a first start)."""
    url = settings.store_url
    if not url.startswith("sqlite:///"):
        return False
    path = url[len("sqlite:///"):]
    return path not in ("", ":memory:") and not pathlib.Path(path).exists()
