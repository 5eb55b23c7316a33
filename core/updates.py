"""Partial updates with explicit, typed keyword fields.

An update service names every field it may change as a keyword argument whose default is
UNCHANGED; `given(...)` keeps only the ones the caller passed. A misspelt field is then a
TypeError at the call (and a type checker's error), not a silently ignored key.
"""

from __future__ import annotations

from typing import Any, Final


class Unchanged:
    """The marker type of a field the caller did not pass."""

    _instance: Unchanged | None = None

    def __new__(cls) -> Unchanged:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNCHANGED"

    def __bool__(self) -> bool:
        return False


UNCHANGED: Final = Unchanged()


def given(**fields: Any) -> dict[str, Any]:
    """The fields whose value is not UNCHANGED, in the order given."""
    return {name: value for name, value in fields.items() if value is not UNCHANGED}
