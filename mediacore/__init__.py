"""mediacore: a low-latency media engine that forks live call audio to WebSocket servers.

The native core (`mediacore.codec`, `mediacore.resample`, `mediacore.framing`) is usable on
its own; the engine, wire protocols and ingress build on it.
"""

__version__ = "0.1.0"
