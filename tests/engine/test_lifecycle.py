"""The stream lifecycle table, driven through every (status, input) pair."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediacore.engine.lifecycle import (IGNORED, TRANSITIONS, LifecycleError, StopReason,
                                        StreamInput, StreamStatus, next_state)

S, I, R = StreamStatus, StreamInput, StopReason


def test_every_pair_is_a_transition_an_ignored_pair_or_an_error():
    for status in S:
        for event in I:
            pair = (status, event)
            assert not (pair in TRANSITIONS and pair in IGNORED)
            if pair in TRANSITIONS:
                assert next_state(status, event) == TRANSITIONS[pair]
            elif pair in IGNORED:
                assert next_state(status, event) is None
            else:
                with pytest.raises(LifecycleError, match=f"{event.value} cannot happen"):
                    next_state(status, event)


@pytest.mark.parametrize("event, status, reason", [
    (I.API_STOP, S.STOPPED, R.API_REQUEST),
    (I.CALL_HANGUP, S.STOPPED, R.CALL_HANGUP),
    (I.TIMEOUT, S.TIMEOUT, R.STREAM_TIMEOUT),
    (I.CONNECTION_LOST, S.FAILED, R.CONNECTION_ERROR),
    (I.SLOW_CONSUMER, S.FAILED, R.SLOW_CONSUMER),
    (I.REMOTE_STOP, S.STOPPED, R.REMOTE_CLOSE),
    (I.SHUTDOWN, S.STOPPED, R.SHUTDOWN),
])
def test_endings_while_streaming(event, status, reason):
    t = next_state(S.IN_PROGRESS, event)
    assert (t.status, t.stop_reason) == (status, reason)


def test_a_stream_that_never_connected_fails_with_connection_error():
    t = next_state(S.INITIATED, I.CONNECT_FAILED)
    assert (t.status, t.stop_reason) == (S.FAILED, R.CONNECTION_ERROR)
    with pytest.raises(LifecycleError):
        next_state(S.IN_PROGRESS, I.CONNECT_FAILED)


def test_first_frame_starts_progress_once():
    assert next_state(S.INITIATED, I.FIRST_FRAME_SENT).status is S.IN_PROGRESS
    with pytest.raises(LifecycleError):
        next_state(S.IN_PROGRESS, I.FIRST_FRAME_SENT)


@given(st.lists(st.sampled_from(list(I)), max_size=30))
def test_any_sequence_ends_at_most_once_and_keeps_the_first_ending(events):
    status, reason, endings = S.INITIATED, None, 0
    for event in events:
        try:
            t = next_state(status, event)
        except LifecycleError:
            continue
        if t is None:
            assert status.ended
            continue
        assert not status.ended
        if t.status.ended:
            endings += 1
            assert t.stop_reason is not None
        status, reason = t.status, t.stop_reason
    assert endings <= 1
    assert (reason is None) == (not status.ended)
