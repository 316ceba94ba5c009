"""The REST API (SPEC §2) as an ASGI app: `create_app(plane, ApiConfig(...))`."""

from control.api.app import create_app
from control.api.routes import ApiConfig

__all__ = ["ApiConfig", "create_app"]
