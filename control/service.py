"""`ControlPlane`: the control plane's one service object, between the HTTP API and the engine.

(Skeleton: the interface of /work/briefs/control-interface.md; methods that are not built yet
raise NotImplementedError and are filled in by the following commits.)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import trio

from control.accounts import Account
from mediacore.engine import Engine, EngineFull, InvalidParameter, NotFound, UrlPolicy

__all__ = ["Account", "ControlPlane", "EngineFull", "InvalidParameter", "NotFound"]


class ControlPlane:
    def __init__(self, engine: Engine, store, *, callback_policy: UrlPolicy,
                 default_rate_per_minute: Decimal = Decimal("0.00300"),
                 checkpoint_interval_s: float = 10.0, callback_retry_max_s: float = 3600.0,
                 ingress=None, http2: bool = True) -> None:
        self.engine = engine
        self.store = store
        self.callback_policy = callback_policy
        self.default_rate_per_minute = default_rate_per_minute
        self.checkpoint_interval_s = checkpoint_interval_s
        self.callback_retry_max_s = callback_retry_max_s
        self.ingress = ingress
        self.http2 = http2

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        raise NotImplementedError

    async def drain(self) -> None:
        raise NotImplementedError

    async def create_account(self, *, rate_per_minute: Decimal | None = None
                             ) -> tuple[Account, str]:
        raise NotImplementedError

    async def authenticate(self, auth_id: str, auth_token: str) -> Account | None:
        raise NotImplementedError

    async def start_stream(self, account: Account, call_uuid: str,
                           fields: Mapping[str, Any]) -> dict:
        raise NotImplementedError

    async def get_stream(self, account: Account, call_uuid: str, stream_id: str) -> dict:
        raise NotImplementedError

    async def list_streams(self, account: Account, call_uuid: str, *, status: str | None,
                           limit: int, offset: int) -> tuple[list[dict], int]:
        raise NotImplementedError

    async def stop_stream(self, account: Account, call_uuid: str, stream_id: str) -> None:
        raise NotImplementedError

    async def stop_all(self, account: Account, call_uuid: str) -> None:
        raise NotImplementedError

    async def usage(self, account: Account, start: dt.datetime | None,
                    end: dt.datetime | None) -> dict:
        raise NotImplementedError

    async def register_call(self, account: Account, fields: Mapping[str, Any]) -> dict:
        raise NotImplementedError

    async def get_call(self, account: Account, call_uuid: str) -> dict:
        raise NotImplementedError

    async def list_calls(self, account: Account) -> list[dict]:
        raise NotImplementedError

    async def hangup_call(self, account: Account, call_uuid: str) -> None:
        raise NotImplementedError

    async def execute_xml(self, account: Account, call_uuid: str,
                          streams: list[Mapping[str, Any]]) -> list[dict]:
        raise NotImplementedError
