"""The one module that reads the wall clock.

Everything time-dependent takes a time or a clock; shells default to
:func:`utc_now`. Tests pass a fixed clock instead of patching ``datetime``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["Clock", "utc_now"]

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)
