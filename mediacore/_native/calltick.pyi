from typing import Any, Callable

class TrackInputBase:
    framer: Any
    jitter: Any

class CallBase:
    inputs: tuple[Any, ...]
    silence: bytes
    native_key: Any
    groups: dict[Any, list[Any]]
    playout: Any

def tick_call(call: CallBase, ts_ms: int, now_ms: float) -> Any: ...
PAUSE_MIN_S: float

def pause_s(writers_done: int, origin: float, spacing: float, now: float) -> float: ...
def tick_calls(calls: dict[Any, CallBase], ts_ms: int, now_ms: float,
               on_reached: Callable[[Any, Any], object],
               on_error: Callable[[Any, Exception], object],
               pace_spacing: float = 0.0, late_s: float = 0.0) -> tuple[int, float, float]: ...
