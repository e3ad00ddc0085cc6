"""Data relations between tasks (being built: see the data-transport issue)."""

from __future__ import annotations

__all__ = ["TaskData"]


class TaskData:
    """Placeholder for explicit data relations."""
