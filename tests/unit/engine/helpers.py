from __future__ import annotations

from itertools import count

from matching.engine import CancelOrder, CommandResult, PlaceOrder

_ts = count(1)


def place(engine, oid, side, price, qty, client="c1", tif="GTC", post_only=False, stp=None) -> CommandResult:  # type: ignore[no-untyped-def]
    return engine.apply(PlaceOrder(oid, client, side, price, qty, next(_ts), tif, post_only, stp))


def cancel(engine, oid, client="c1") -> CommandResult:  # type: ignore[no-untyped-def]
    return engine.apply(CancelOrder(oid, client, next(_ts)))


def kinds(result: CommandResult) -> list[str]:
    return [type(e).__name__ for e in result.events]
