"""What every client shares: the plan it is given, its messages, and the overload rule."""

from __future__ import annotations

import dataclasses
import functools
import json
import ssl
import time

from benches.frames import ulaw_frames
from mediacore.wire import Profile, make_profile

TICK_S = 0.020
ABANDON_LATE_S = 1.0   # a tick this late means the client cannot keep up: stop, count loss
CONNECT_CONCURRENCY = 200  # opening handshakes in flight at once (the sink's backlog is 4096)


@dataclasses.dataclass(frozen=True)
class Plan:
    base_url: str          # ws://127.0.0.1:PORT or wss://localhost:PORT
    forks: int
    frames: int            # media frames per fork (= ticks)
    warmup: int            # ticks before the steady-state window
    record: str            # path of the shared record file
    ca_file: str | None = None
    core: int | None = 0
    nice: int = 0          # process priority for the client (limits.renice)

    def url(self, fork: int) -> str:
        return f"{self.base_url}/fork/{fork}"

    @property
    def tls(self) -> bool:
        return self.base_url.startswith("wss:")

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.base_url.split("://", 1)[1].rpartition(":")
        return host, int(port)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "Plan":
        return cls(**json.loads(text))


def client_context(ca_file: str) -> ssl.SSLContext:
    """Verify the sink's certificate and host name against the run's CA, as the engine will."""
    return ssl.create_default_context(cafile=ca_file)


def profile(fork: int) -> Profile:
    return make_profile("plivo", stream_id=f"fork-{fork}", call_id=f"call-{fork}",
                        account_id="MAFANOUTBENCH", tracks=("inbound",))


@functools.cache
def payloads() -> list[bytes]:
    """One second of speech-like μ-law, 160 B per frame, cycled by every client."""
    return ulaw_frames(50)


def epoch_ms() -> int:
    return int(time.time() * 1000)


def abandon(due: float, now: float) -> bool:
    """True when a tick starts so late that the run cannot pass: the client stops sending
    (the frames it did not send count as loss) instead of running on for minutes."""
    return now - due > ABANDON_LATE_S
