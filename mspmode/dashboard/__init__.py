"""The web dashboard served at ``/`` beside the API: server-rendered pages over the same
services, roles and per-client scoping (``create_dashboard``)."""

from mspmode.dashboard.app import create_dashboard

__all__ = ["create_dashboard"]
