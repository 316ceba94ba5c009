"""A stream's lifecycle as data (SPEC §2.2): statuses, stop reasons, and the transition table.

    initiated --first media frame sent--> in-progress
    initiated | in-progress --stop inputs--> stopped | timeout | failed   (terminal)

Every (status, input) pair is in `TRANSITIONS` or in `IGNORED`; anything else raises
`LifecycleError` (a bug in the caller, never a user error). Inputs that end a stream are
ignored once it has ended, which makes stopping idempotent (DELETE on an ended stream is 204).
The terminal status and the stop reason are decided by the first ending input only.
"""

from __future__ import annotations

import dataclasses
import enum


class StreamStatus(str, enum.Enum):
    INITIATED = "initiated"
    IN_PROGRESS = "in-progress"
    STOPPED = "stopped"
    TIMEOUT = "timeout"
    FAILED = "failed"

    @property
    def ended(self) -> bool:
        return self in (StreamStatus.STOPPED, StreamStatus.TIMEOUT, StreamStatus.FAILED)


class StopReason(str, enum.Enum):
    API_REQUEST = "api_request"
    CALL_HANGUP = "call_hangup"
    STREAM_TIMEOUT = "stream_timeout"
    CONNECTION_ERROR = "connection_error"
    SLOW_CONSUMER = "slow_consumer"
    REMOTE_CLOSE = "remote_close"
    SHUTDOWN = "shutdown"


class StreamInput(enum.Enum):
    """What can happen to a stream."""

    FIRST_FRAME_SENT = "first_frame_sent"
    API_STOP = "api_stop"
    CALL_HANGUP = "call_hangup"
    TIMEOUT = "timeout"
    CONNECT_FAILED = "connect_failed"        # initial attempts exhausted
    CONNECTION_LOST = "connection_lost"      # abnormal close with no retries left
    SLOW_CONSUMER = "slow_consumer"          # send buffer full
    REMOTE_STOP = "remote_stop"              # server sent `stop`, or closed cleanly
    SHUTDOWN = "shutdown"


@dataclasses.dataclass(frozen=True)
class Transition:
    status: StreamStatus
    stop_reason: StopReason | None = None


class LifecycleError(RuntimeError):
    """An input that makes no sense in the stream's status (a caller bug)."""


S, I, R = StreamStatus, StreamInput, StopReason

# the inputs that end a stream, with the status and reason they end it with
_ENDINGS = {
    I.API_STOP: Transition(S.STOPPED, R.API_REQUEST),
    I.CALL_HANGUP: Transition(S.STOPPED, R.CALL_HANGUP),
    I.TIMEOUT: Transition(S.TIMEOUT, R.STREAM_TIMEOUT),
    I.CONNECT_FAILED: Transition(S.FAILED, R.CONNECTION_ERROR),
    I.CONNECTION_LOST: Transition(S.FAILED, R.CONNECTION_ERROR),
    I.SLOW_CONSUMER: Transition(S.FAILED, R.SLOW_CONSUMER),
    I.REMOTE_STOP: Transition(S.STOPPED, R.REMOTE_CLOSE),
    I.SHUTDOWN: Transition(S.STOPPED, R.SHUTDOWN),
}

TRANSITIONS: dict[tuple[StreamStatus, StreamInput], Transition] = {
    (S.INITIATED, I.FIRST_FRAME_SENT): Transition(S.IN_PROGRESS),
    **{(S.INITIATED, i): t for i, t in _ENDINGS.items()},
    **{(S.IN_PROGRESS, i): t for i, t in _ENDINGS.items() if i is not I.CONNECT_FAILED},
}

# pairs that change nothing: ending inputs after the end
IGNORED: frozenset[tuple[StreamStatus, StreamInput]] = frozenset(
    (status, i) for status in S if status.ended for i in _ENDINGS
)


def ending(event: StreamInput) -> Transition:
    """The status and stop reason an ending input gives a live stream."""
    return _ENDINGS[event]


def next_state(status: StreamStatus, event: StreamInput) -> Transition | None:
    """The transition for `event` in `status`, None when the pair is ignored."""
    transition = TRANSITIONS.get((status, event))
    if transition is not None:
        return transition
    if (status, event) in IGNORED:
        return None
    raise LifecycleError(f"{event.value} cannot happen to a stream that is {status.value}")
