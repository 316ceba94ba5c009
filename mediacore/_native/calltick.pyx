"""The media clock's step for every call, in C: take each call's frames for this tick (one per
track), play out, and hand every group of forks its frames through the fan-out kernel.

Why native: the step itself is small, but it runs for every call every tick, cold (between
two ticks the kernel's sends for hundreds of forks evict the interpreter's state). As Python
it took ~250 µs of a tick at 30 calls of 10 forks, a quarter of the engine's CPU beyond the
sends themselves; in C it takes 3-5.6 µs less per call (benches/README.md, "The call step in
C").

`CallBase` and `TrackInputBase` hold the fields a tick reads; the engine's `Call` and
`_TrackInput` (mediacore/engine/call.py) subclass them and own every other field and all the
code that changes them. So this state has one copy: nothing mirrors the Python objects and
nothing needs invalidating when a fork, a group or a playout comes or goes.

Python still runs where the work is Python's: a jitter buffer's `get`, a bidirectional
stream's playout and mixing (`Call._mix`, `Call._play`), a transcoder for forks in another
format than the call's (`Call._convert`), and the forks that `fan_out` hands back
(`Fork.after_tick`, with `Fork.fail_internal` as their error boundary).
"""

from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.dict cimport PyDict_Next, PyDict_Size, PyDict_Values
from cpython.list cimport PyList_GET_SIZE
from cpython.object cimport PyObject
from libc.stdint cimport int64_t
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

from mediacore._native.framing cimport Framer

from mediacore._native.fanout cimport fan_out_c

cdef extern from "<time.h>" nogil:
    int clock_nanosleep(int clock_id, int flags, const timespec *request, timespec *remain)
    enum: TIMER_ABSTIME

# a paced tick pauses only when this far ahead of its schedule: each pause costs a wake-up
# (tens of µs of CPU on a VM), and a fork's send time may stray from its place by as much
cdef double _PAUSE_MIN_S = 0.001
PAUSE_MIN_S = _PAUSE_MIN_S


cdef class TrackInputBase:
    """One track's incoming audio: `framer` (a Framer fed bytes) or `jitter` (a jitter
    buffer fed packets), or neither (silence)."""

    cdef public Framer framer
    cdef public object jitter


cdef class CallBase:
    """What a call's tick reads: its two `inputs` (TrackInputBase), one frame of `silence`
    in the call's format, `groups` ((format, byte order) -> the forks' DirectWriters, in
    start order), `native_key` (the group that needs no transcoding) and `playout` (the
    bidirectional stream's Playout, or None)."""

    cdef public tuple inputs
    cdef public bytes silence
    cdef public object native_key
    cdef public dict groups
    cdef public object playout


cdef object _frame(TrackInputBase track, double now_ms):
    """This tick's frame of `track` (bytes), or None when nothing is there."""
    cdef Framer f
    cdef Py_ssize_t n
    f = track.framer
    if f is not None:
        n = f.frame_bytes
        if f._write - f._read < n:
            return None
        # a copy: forks that queue the tick keep it, and the framer's block stays reusable
        frame = PyBytes_FromStringAndSize(f._block.data + f._read, n)
        f._read += n
        return frame
    if track.jitter is not None:
        _kind, frame = track.jitter.get(now_ms)
        return bytes(frame)
    return None


cdef int _fan(CallBase call, object key, list writers, int64_t ts_ms, object inbound,
              object outbound) except -1:
    """One group's forks: transcode once for the group, write in C, then run the Python of
    the forks the kernel hands back."""
    if key == call.native_key:
        tin, tout = inbound, outbound
    else:
        tin = call._convert(0, key, inbound)
        tout = call._convert(1, key, outbound)
    slow = fan_out_c(writers, ts_ms, tin, tout)
    if slow is not None:
        for w in slow:
            fork = w.fork
            if fork is None:  # released: ended since the group's snapshot was taken
                continue
            try:
                fork.after_tick(ts_ms, tin, tout)
            except Exception as exc:  # the fork's error boundary, ticker side
                fork.fail_internal(exc)
    return 0


cdef object _tick(CallBase call, int64_t ts_ms, double now_ms):
    """One call's tick; returns the checkpoints its playback reached."""
    cdef Py_ssize_t pos = 0
    cdef PyObject *k
    cdef PyObject *v
    if call is None:
        raise TypeError("a call must be a CallBase, not None")
    inputs = call.inputs
    if (inputs is None or len(inputs) != 2 or not isinstance(inputs[0], TrackInputBase)
            or not isinstance(inputs[1], TrackInputBase)):
        raise TypeError(f"a call's inputs must be two TrackInputBase, not {inputs!r}")
    if call.groups is None or call.silence is None:
        raise TypeError("a call's groups and silence must be set")
    inbound = _frame(<TrackInputBase>inputs[0], now_ms)
    if not inbound:
        inbound = call.silence
    outbound = _frame(<TrackInputBase>inputs[1], now_ms)
    reached = ()
    if call.playout is not None:
        played, reached = call.playout.tick()
        if played is not None:
            played = bytes(played)
            outbound = played if outbound is None else call._mix(outbound, played)
        call._play(played)
    if outbound is None:
        outbound = call.silence
    groups = call.groups
    if PyDict_Size(groups) == 1:  # the common case: every fork in one format
        PyDict_Next(groups, &pos, &k, &v)
        _fan(call, <object>k, <list?><object>v, ts_ms, inbound, outbound)
    elif PyDict_Size(groups) > 1:
        # a snapshot: a fork's Python code may end a group while the loop runs
        for key, writers in list(groups.items()):
            _fan(call, key, writers, ts_ms, inbound, outbound)
    return reached


def tick_call(CallBase call not None, int64_t ts_ms, double now_ms):
    """Tick one call (see the module docstring); returns the checkpoints its playback
    reached. `ts_ms` is the tick's wall-clock timestamp, `now_ms` its due time on the media
    clock (what jitter buffers run on)."""
    return _tick(call, ts_ms, now_ms)


cdef double _monotonic() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec + ts.tv_nsec * 1e-9


cdef void _sleep_until(double t) noexcept nogil:
    """Sleep until CLOCK_MONOTONIC reads `t` (a signal may end it early: the tick goes on)."""
    cdef timespec ts
    ts.tv_sec = <long>t
    ts.tv_nsec = <long>((t - ts.tv_sec) * 1e9)
    if ts.tv_nsec >= 1000000000:
        ts.tv_sec += 1
        ts.tv_nsec -= 1000000000
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL)


cdef inline double _pause_s(Py_ssize_t writers_done, double origin, double spacing,
                            double now) noexcept nogil:
    cdef double ahead
    if spacing <= 0.0:
        return 0.0
    ahead = origin + writers_done * spacing - now
    return ahead if ahead >= _PAUSE_MIN_S else 0.0


def pause_s(Py_ssize_t writers_done, double origin, double spacing, double now):
    """How long a paced tick pauses before its next call, at `now` (CLOCK_MONOTONIC s), with
    `writers_done` writers ticked: until `origin + writers_done * spacing` when that is at
    least PAUSE_MIN_S away, else not at all (0.0)."""
    return _pause_s(writers_done, origin, spacing, now)


cdef inline Py_ssize_t _writers(CallBase call) noexcept:
    """The call's fan-out writers, over all its format groups."""
    cdef Py_ssize_t pos = 0, n = 0
    cdef PyObject *k
    cdef PyObject *v
    if call.groups is None:
        return 0
    while PyDict_Next(call.groups, &pos, &k, &v):
        if type(<object>v) is list:
            n += PyList_GET_SIZE(<list>v)
    return n


def tick_calls(dict calls not None, int64_t ts_ms, double now_ms, on_reached, on_error,
               double pace_spacing=0.0, double late_s=0.0):
    """Tick every call of `calls` (values: CallBase), in order. A call's exception goes to
    `on_error(call, exc)` and the next call goes on; `on_reached(call, names)` gets the
    checkpoints a call's playback reached. The calls ticked are those of `calls` when the
    tick starts (a callback may open or close calls meanwhile).

    Paced (`pace_spacing` > 0, s per writer): the writers after the first k ticked are not
    started before the tick's due time + k * pace_spacing, the due time being `late_s`
    before this call: between two calls the tick sleeps, without the GIL, when it is at
    least PAUSE_MIN_S ahead of that (see mediacore/engine/pacing.py for why). The clock read
    is CLOCK_MONOTONIC, in C. Returns (writers ticked, seconds of work: the time taken
    without the pauses, seconds paused)."""
    cdef Py_ssize_t done = 0, i = 0, n
    cdef double paused = 0.0, wait, before, started, origin
    started = _monotonic()
    origin = started - late_s
    snapshot = PyDict_Values(calls)
    n = PyList_GET_SIZE(snapshot)
    for call in snapshot:
        i += 1
        if not isinstance(call, CallBase):
            what = "None" if call is None else type(call).__name__
            on_error(call, TypeError(f"a call must be a CallBase, not {what}"))
            continue
        done += _writers(<CallBase>call)
        try:
            reached = _tick(<CallBase>call, ts_ms, now_ms)
        except Exception as exc:  # one call's bug never stops the clock
            on_error(call, exc)
            reached = None
        if reached:
            on_reached(call, reached)
        if pace_spacing > 0.0 and i < n:
            before = _monotonic()
            wait = _pause_s(done, origin, pace_spacing, before)
            if wait > 0.0:
                with nogil:
                    _sleep_until(before + wait)
                paused += _monotonic() - before
    return done, _monotonic() - started - paused, paused
