"""Edge conversion between decimal strings and the engine's integer ticks and lots.

The engine never sees a Decimal or a float: callers convert once at the edge.  A value that is not
an exact multiple of the tick (or lot) is an error, never silently rounded.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Final

TICK: Final = Decimal("0.01")
LOT: Final = Decimal("1")


def _to_units(value: str | Decimal | int, unit: Decimal, what: str) -> int:
    try:
        d = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"{what} {value!r} is not a decimal number") from exc
    if not d.is_finite():
        raise ValueError(f"{what} {value!r} is not finite")
    units = d / unit
    if units != units.to_integral_value():
        raise ValueError(f"{what} {value!r} is not a multiple of {unit}")
    return int(units)


def _from_units(units: int, unit: Decimal) -> str:
    # quantize keeps the unit's exponent, so 1234 ticks -> "12.34" and 1200 ticks -> "12.00".
    return str((Decimal(units) * unit).quantize(unit))


def to_ticks(price: str | Decimal | int, tick: Decimal = TICK) -> int:
    """'12.34' -> 1234 (tick 0.01).  Raises ValueError for off-tick or malformed prices."""
    return _to_units(price, tick, "price")


def from_ticks(ticks: int, tick: Decimal = TICK) -> str:
    """1234 -> '12.34'."""
    return _from_units(ticks, tick)


def to_lots(qty: str | Decimal | int, lot: Decimal = LOT) -> int:
    """'10' -> 10 (lot 1).  Raises ValueError for fractional-lot or malformed quantities."""
    return _to_units(qty, lot, "qty")


def from_lots(lots: int, lot: Decimal = LOT) -> str:
    """10 -> '10'."""
    return _from_units(lots, lot)
