"""Query-parameter parsing shared by the read APIs: a bad value is a 400 naming the parameter."""

from __future__ import annotations

from tulip.errors import ValidationFailed


def int_param(name: str, value: str | None, default: int | None, low: int, high: int) -> int:
    """`value` as an int in [low, high]; `default` when absent (None: the parameter is required)."""
    if value is None or value == "":
        if default is None:
            raise ValidationFailed(f"{name} is required.", {name: ["required"]})
        return default
    try:
        number = int(value)
    except ValueError:
        raise ValidationFailed(f"{name} must be an integer.", {name: ["must be an integer"]}) from None
    if not low <= number <= high:
        raise ValidationFailed(f"{name} is out of range.", {name: [f"must be {low}..{high}"]})
    return number
