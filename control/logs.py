"""Structured logs: one JSON object per line on stderr.

    {"time": "2025-01-31T12:00:00.123456+00:00", "level": "INFO", "logger": "control.daemon",
     "message": "listening", "url": "http://127.0.0.1:8080"}

Fields given with `extra={...}` become keys of the object; an exception adds `exc_info` (the
formatted traceback). Hypercorn's access and error logs go through the same handler.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import TextIO

# attributes every LogRecord has: whatever else a record carries came from `extra=`
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime",
                                                                        "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        document = {
            "time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                document[key] = value
        if record.exc_info:
            document["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(document, default=str, ensure_ascii=False)


def configure(level: str = "INFO", stream: TextIO | None = None) -> logging.Handler:
    """Send every log record to `stream` (stderr) as JSON lines, at `level` and above."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    return handler
