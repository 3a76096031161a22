"""Range checks the settings dataclasses share: a value out of range is a ValueError that
names the class, the setting and the value."""

from __future__ import annotations


def require_positive_ints(config, *names: str) -> None:
    """Refuse ``config`` unless each of its settings ``names`` is an int >= 1 (bools are not)."""
    for name in names:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{type(config).__name__}: {name}={value!r} must be >= 1 (an int)")
