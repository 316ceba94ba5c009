"""The `mediacore` command.

    mediacore serve [--config mediacore.toml]        run the daemon (SIGTERM drains, exit 0)
    mediacore account create [--rate 0.003] [--json] a new account: prints auth id and token
    mediacore demo [--seconds 10]                    see it work end to end, locally

Settings come from the config file and MEDIACORE_* variables (control/config.py). On the very
first start on the default SQLite store, `serve` creates one account and prints its
credentials once (stdout); later accounts come from `mediacore account create`.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from decimal import Decimal, InvalidOperation

import trio

from control import config as config_module
from control import logs
from mediacore.engine.collector import FullCollections

log = logging.getLogger("control.cli")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        settings = config_module.load(getattr(args, "config", None))
    except config_module.ConfigError as exc:
        print(f"mediacore: configuration error: {exc}", file=sys.stderr)
        return 2
    return args.handler(args, settings)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mediacore", description="Low-latency media engine "
                                     "with a Plivo-compatible audio streaming API.")
    commands = parser.add_subparsers(dest="command")

    serve = commands.add_parser("serve", help="run the daemon")
    serve.add_argument("--config", help="TOML config file (MEDIACORE_* variables override it)")
    serve.set_defaults(handler=_serve)

    account = commands.add_parser("account", help="manage accounts")
    account_commands = account.add_subparsers(dest="account_command", required=True)
    create = account_commands.add_parser("create", help="create an account; prints its auth "
                                         "id and auth token (the token is shown only once)")
    create.add_argument("--config", help="TOML config file (to find the store)")
    create.add_argument("--rate", type=_rate, default=None,
                        help="price per minute of streamed audio (default: the config's "
                             "default_rate_per_minute)")
    create.add_argument("--json", action="store_true", help="print JSON")
    create.set_defaults(handler=_account_create)

    demo = commands.add_parser("demo", help="start everything locally and stream a test call")
    demo.add_argument("--seconds", type=float, default=10.0, help="how long the call lasts")
    demo.set_defaults(handler=_demo, config=None)
    return parser


def _rate(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a decimal number: {text!r}") from None
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError(f"the rate must be 0 or more, not {text}")
    return value


# -- serve ------------------------------------------------------------------------------------

def _serve(args, settings) -> int:
    logs.configure(settings.log_level)
    for name in config_module.unknown_environment():
        log.warning("%s is not a mediacore setting; ignored", name)
    # the daemon owns the process, so it sets the collector's policy (the engine cannot)
    try:
        with FullCollections(freeze=settings.gc_freeze, sweep_s=settings.gc_sweep_s):
            return trio.run(_serve_async, settings)
    except KeyboardInterrupt:
        return 130


async def _serve_async(settings) -> int:
    from control import daemon

    shutdown = trio.Event()
    forced = False
    async with trio.open_nursery() as nursery:
        async def signals() -> None:
            nonlocal forced
            with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as received:
                async for signum in received:
                    if not shutdown.is_set():
                        log.info("received %s: draining", signal.Signals(signum).name)
                        shutdown.set()
                    else:  # a second signal: stop without waiting for the drain
                        log.warning("received %s again: stopping now",
                                    signal.Signals(signum).name)
                        forced = True
                        nursery.cancel_scope.cancel()

        async def serve(task_status=trio.TASK_STATUS_IGNORED) -> None:
            await daemon.run(settings, shutdown=shutdown, create_first_account=True,
                             task_status=task_status)
            nursery.cancel_scope.cancel()  # drained and stopped: the signal watcher goes too

        nursery.start_soon(signals)
        _greet(await nursery.start(serve))
    return 1 if forced else 0


def _greet(running) -> None:
    url = running.urls[0]
    print(f"mediacore is listening on {', '.join(running.urls)} "
          f"(store: {running.settings.store_url})", flush=True)
    if running.first_account is not None:
        auth_id, token = running.first_account
        print("First start: created an account (the token is shown only this once):\n"
              f"  auth_id:    {auth_id}\n  auth_token: {token}\n"
              f"Try: curl -u {auth_id}:{token} {url}/v1/Account/{auth_id}/Call/\n"
              "More accounts: mediacore account create", flush=True)
    else:
        print("Create an account with: mediacore account create", flush=True)


# -- account create ---------------------------------------------------------------------------

def _account_create(args, settings) -> int:
    logs.configure("WARNING")
    account, token = trio.run(_create_account, settings, args.rate)
    if args.json:
        print(json.dumps({"auth_id": account.auth_id, "auth_token": token,
                          "rate_per_minute": str(account.rate_per_minute)}))
    else:
        print(f"auth_id:    {account.auth_id}\nauth_token: {token}\n"
              f"rate:       {account.rate_per_minute} per minute\n"
              "The token is shown only this once; keep it.")
    return 0


async def _create_account(settings, rate):
    from control import daemon
    from mediacore.engine import Engine

    store = await trio.to_thread.run_sync(daemon.open_store, settings)
    try:
        # the plane owns account creation; it needs no running engine for it
        plane = daemon.make_plane(Engine(policy=daemon.url_policy(settings)), store, settings)
        return await plane.create_account(rate_per_minute=rate)
    finally:
        await store.close()


# -- demo -------------------------------------------------------------------------------------

def _demo(args, settings) -> int:
    from control import demo

    return demo.main(seconds=args.seconds)


if __name__ == "__main__":
    sys.exit(main())
