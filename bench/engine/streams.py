"""Two deterministic 200,000-message streams (fixed seeds; identical on every machine).

A message is a plain tuple ``(op, oid, is_buy, price, qty, ioc)``: ``op`` 0 = limit order, 1 = cancel
(``oid`` names an earlier order, which may be filled or cancelled already).  Prices are ticks.

* ``growing``: 60 % passive adds / 30 % crossing limits (half IOC) / 10 % cancels of any earlier
  order; the book grows to tens of thousands of resting orders.
* ``bounded``: 48 % adds close to the touch / 30 % crossing / 22 % cancels aimed at recent orders;
  crossing flow eats the passive adds, so the book stays under ~1,000 resting orders.
"""

from __future__ import annotations

import random
from typing import TypeAlias

Msg: TypeAlias = tuple[int, int, bool, int, int, bool]
N = 200_000
MID = 10_000


def make_stream(name: str, n: int = N) -> list[Msg]:
    if name == "growing":
        return _stream(
            seed=1, n=n, p_add=0.60, p_cross=0.30, cancel_window=None, max_off=40, add_qty=20, cross_qty=30
        )
    if name == "bounded":
        return _stream(
            seed=2, n=n, p_add=0.48, p_cross=0.30, cancel_window=300, max_off=6, add_qty=10, cross_qty=50
        )
    raise ValueError(f"unknown stream {name!r}")


def _stream(
    seed: int,
    n: int,
    p_add: float,
    p_cross: float,
    cancel_window: int | None,
    max_off: int,
    add_qty: int,
    cross_qty: int,
) -> list[Msg]:
    rng = random.Random(seed)
    out: list[Msg] = []
    placed: list[int] = []
    mid = MID
    for i in range(n):
        oid = i + 1
        r = rng.random()
        if i % 1000 == 0:
            mid += rng.randint(-3, 3)  # slow drift so levels come and go
        if r < p_add:
            is_buy = rng.random() < 0.5
            off = rng.randint(1, max_off)
            price = mid - off if is_buy else mid + off
            out.append((0, oid, is_buy, price, rng.randint(1, add_qty), False))
            placed.append(oid)
        elif r < p_add + p_cross:
            is_buy = rng.random() < 0.5
            off = rng.randint(0, 6)
            price = mid + off if is_buy else mid - off
            out.append((0, oid, is_buy, price, rng.randint(1, cross_qty), rng.random() < 0.5))
            placed.append(oid)
        else:
            if not placed:
                continue
            lo = 0 if cancel_window is None else max(0, len(placed) - cancel_window)
            out.append((1, placed[rng.randrange(lo, len(placed))], False, 0, 0, False))
    return out
