# distutils: sources =
"""An OS timer the media clock waits on through Trio's I/O (Linux timerfd).

Why: `trio.sleep_until` wakes a task by cancelling it at the deadline. That path creates and
raises a `Cancelled` with its traceback and unwinds a cancel scope: about 50 µs of Python when
hot, and several hundred µs once 20 ms of other work (the kernel's sends for hundreds of
forks) has evicted it from the caches, paid once per tick by the engine's only per-tick task.
A readable timerfd wakes the task as any socket does: one `epoll` event and a reschedule.

`TickTimer.arm_at(t)` sets a one-shot expiry at `t` seconds on CLOCK_MONOTONIC (the clock of
`time.monotonic()` and `time.perf_counter()`, hence of Trio's default clock); the fd becomes
readable then, and `consume()` clears it. Only Linux has timerfd: elsewhere the constructor
raises OSError and the media clock uses `trio.sleep_until`.
"""

from libc.errno cimport errno
from libc.stdint cimport uint64_t

import math
import os

cdef extern from *:
    """
    #ifdef __linux__
    #include <sys/timerfd.h>
    #include <time.h>
    #include <unistd.h>
    #include <errno.h>
    #include <math.h>
    static int mc_timer_create(void) {
        return timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    }
    /* one-shot at absolute time t (seconds, finite, >= 0) */
    static int mc_timer_arm(int fd, double t) {
        struct itimerspec its = {{0, 0}, {0, 0}};
        double s = floor(t);
        its.it_value.tv_sec = (time_t)s;
        its.it_value.tv_nsec = (long)((t - s) * 1e9);
        if (its.it_value.tv_nsec > 999999999) its.it_value.tv_nsec = 999999999;
        /* an all-zero it_value would disarm: the earliest expiry instead, which has passed */
        if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0) its.it_value.tv_nsec = 1;
        return timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL);
    }
    /* expirations since the last read; 0 when none (EAGAIN), -1 with errno otherwise */
    static long long mc_timer_consume(int fd) {
        uint64_t n = 0;
        ssize_t r = read(fd, &n, sizeof n);
        if (r == (ssize_t)sizeof n) return (long long)n;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
        if (r >= 0) errno = EIO;
        return -1;
    }
    #else
    #include <errno.h>
    static int mc_timer_create(void) { errno = ENOSYS; return -1; }
    static int mc_timer_arm(int fd, double t) { (void)fd; (void)t; errno = ENOSYS; return -1; }
    static long long mc_timer_consume(int fd) { (void)fd; errno = ENOSYS; return -1; }
    #endif
    """
    int mc_timer_create() nogil
    int mc_timer_arm(int fd, double t) nogil
    long long mc_timer_consume(int fd) nogil


cdef object _os_error():
    err = errno
    return OSError(err, os.strerror(err))


cdef class TickTimer:
    """A one-shot monotonic timer as a file descriptor (see the module docstring). Close it
    with `close()`; a closed timer's methods raise ValueError."""

    cdef int _fd

    def __cinit__(self):
        self._fd = mc_timer_create()
        if self._fd < 0:
            raise _os_error()

    def __dealloc__(self):
        if self._fd >= 0:
            os.close(self._fd)

    cdef int _check_open(self) except -1:
        if self._fd < 0:
            raise ValueError("the timer is closed")
        return 0

    def fileno(self) -> int:
        self._check_open()
        return self._fd

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def arm_at(self, double t) -> None:
        """Expire once at `t` seconds of CLOCK_MONOTONIC (a time already past expires at
        once), replacing any earlier setting."""
        self._check_open()
        if not math.isfinite(t) or t < 0:
            raise ValueError(f"the expiry must be a finite, non-negative time, not {t!r}")
        if mc_timer_arm(self._fd, t) != 0:
            raise _os_error()

    def consume(self) -> int:
        """Expirations since the last call (0 or 1 for a one-shot timer), clearing the fd's
        readability."""
        cdef long long n
        self._check_open()
        n = mc_timer_consume(self._fd)
        if n < 0:
            raise _os_error()
        return n

    def close(self) -> None:
        """Close the fd (idempotent). A Trio task waiting on it must be told first
        (`trio.lowlevel.notify_closing`)."""
        cdef int fd = self._fd
        if fd >= 0:
            self._fd = -1
            os.close(fd)

    def __repr__(self):
        return "TickTimer(closed)" if self._fd < 0 else f"TickTimer(fd={self._fd})"
