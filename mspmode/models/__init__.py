"""Every table of MSP Mode, one module per domain area.

Importing this package registers all models on ``Base.metadata``, which is what Alembic and
the tests compare against.
"""

from mspmode.db.base import Base
from mspmode.models import (
    core,
    credentials,
    infrastructure,
    integrations,
    learning,
    operations,
    recall,
    recovery,
    work,
)

__all__ = [
    "Base",
    "core",
    "credentials",
    "infrastructure",
    "integrations",
    "learning",
    "operations",
    "recall",
    "recovery",
    "work",
]
