"""Process setup shared by the harness, the sink and the clients: file descriptors for
thousands of sockets, and one core each so that "forks per core" means one core."""

from __future__ import annotations

import os
import resource

CLIENT_CORE, SINK_CORE = 0, 1


def raise_nofile() -> int:
    """Soft RLIMIT_NOFILE up to the hard limit (each fork is one socket); the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else 1 << 20
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


def pin(core: int | None) -> None:
    """Run this process on `core` only (None, or a machine without it: leave as is)."""
    if core is not None and core < (os.cpu_count() or 1):
        os.sched_setaffinity(0, {core})


def renice(nice: int) -> None:
    """Ask for a larger share of the core on a shared machine (nice < 0 needs root; refused
    quietly otherwise: the "other load" column then shows what the run competed with)."""
    if nice:
        try:
            os.setpriority(os.PRIO_PROCESS, 0, nice)
        except OSError:
            pass
