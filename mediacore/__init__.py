"""mediacore: a low-latency media engine that forks live call audio to WebSocket servers.

The native core (`mediacore.codec`, `mediacore.resample`, `mediacore.framing`,
`mediacore.jitter`) and the sans-IO wire protocols (`mediacore.wire`) are usable on their own;
`mediacore.Engine` (Trio) runs calls and streams on top of them.
"""

__version__ = "0.1.0"

__all__ = ["Engine", "__version__"]


def __getattr__(name: str):
    # the engine needs Trio; importing it lazily keeps `import mediacore.codec` free of it
    if name == "Engine":
        from mediacore.engine import Engine

        return Engine
    raise AttributeError(f"module 'mediacore' has no attribute {name!r}")
