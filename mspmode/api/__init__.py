"""The REST API: ``create_app(settings)``; every route under ``/api``."""

from mspmode.api.app import create_app

__all__ = ["create_app"]
