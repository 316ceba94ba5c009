from typing import Any

from typing_extensions import Buffer

def _register(put_results: Any, frame_kinds: Any, stats_type: Any) -> None: ...

class JitterBuffer:
    clock_rate: int
    frame_samples: int
    frame_bytes: int
    mode: str
    codec: str
    min_delay_ms: float
    max_delay_ms: float
    initial_delay_ms: float
    def __init__(self, clock_rate: int, frame_samples: int, *, min_delay_ms: float = 20.0,
                 max_delay_ms: float = 400.0, mode: str = "adaptive",
                 initial_delay_ms: float | None = None, codec: str = "l16") -> None: ...
    # -> mediacore.jitter.PutResult
    def put(self, seq: int, timestamp: int, payload: Buffer, arrival_ms: float,
            ssrc: int | None = None) -> Any: ...
    # -> (mediacore.jitter.FrameKind, read-only memoryview valid until the next get)
    def get(self, now_ms: float) -> tuple[Any, memoryview]: ...
    def reset(self) -> None: ...
    # -> mediacore.jitter.JitterStats
    def stats(self) -> Any: ...
