"""The operations console: JSON API under /api, the dashboard, /healthz and /metrics."""

from leadlink.web.app import create_app

__all__ = ["create_app"]
