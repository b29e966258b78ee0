"""SimFill (phase 1): the real book plus a deterministic simulated counterparty.

What it simulates: an outside liquidity provider that may take the other side of an incoming
order *after* the real book has been exhausted at the order's limit.  Whether and how much it
provides is decided by the order alone -- seed = sha256 of the idempotency key (or the order id
when none is given) -- so a replay of the same log always makes the same decisions:

* ~40 % of orders get no simulated liquidity (they rest, or are cancelled per their TIF);
* ~35 % get a partial fill of 10 %..90 % of their quantity (at least one lot);
* ~25 % get their whole quantity.

Simulated fills are ordinary ``TradeExecuted`` events at the order's own limit price, against a
synthetic maker ``sim:<orderId>`` of client ``SIM_CLIENT_ID`` (a one-shot order filled completely by
that one trade).  Everything else is the real engine, so every invariant still holds: price-time
priority against what rests (real makers always fill first, and the simulated price never trades
through them), Σ fills ≤ qty, IOC/FOK/postOnly semantics (postOnly orders never take simulated
liquidity; FOK counts it in its all-or-nothing check), self-trade prevention, dedupe, gap-free seq,
snapshots and state hashes.
"""

from __future__ import annotations

import hashlib
from typing import Final

from matching.engine.book import BookEngine
from matching.engine.messages import Event, PlaceOrder, StpMode, new_trade

SIM_CLIENT_ID: Final = "__simfill__"


def sim_seed(cmd: PlaceOrder) -> bytes:
    """The order's deterministic seed: sha256 of its idempotency key, else of its order id."""
    key = cmd.idempotency_key or cmd.order_id
    return hashlib.sha256(key.encode()).digest()


def simulated_qty(cmd: PlaceOrder) -> int:
    """Lots of simulated liquidity this order will meet (0..qty); a pure function of the order."""
    if cmd.post_only or cmd.qty <= 0:
        return 0
    seed = sim_seed(cmd)
    roll = seed[0] % 100
    if roll < 40:
        return 0
    if roll < 75:
        tenths = 1 + seed[1] % 9
        return max(1, cmd.qty * tenths // 10)
    return cmd.qty


class SimFillEngine(BookEngine):
    """``MATCHER=simfill``: same interface and event contract as ``BookEngine``."""

    def __init__(
        self,
        symbol: str,
        *,
        last_seq: int = 0,
        depth: int = 5,
        stp_default: StpMode = "cancel_newest",
    ) -> None:
        super().__init__(symbol, last_seq=last_seq, depth=depth, stp_default=stp_default)
        self.kind = "simfill"
        self._simulates = True

    def _simulated_qty(self, cmd: PlaceOrder) -> int:
        return simulated_qty(cmd)

    def _simulate(self, cmd: PlaceOrder, events: list[Event], seq: int, remaining: int) -> tuple[int, int]:
        fill = min(remaining, simulated_qty(cmd))
        if fill <= 0:
            return seq, remaining
        remaining -= fill
        seq += 1
        events.append(
            new_trade(
                seq,
                self.symbol,
                cmd.ts,
                cmd.price,
                fill,
                cmd.side,
                "sim:" + cmd.order_id,
                SIM_CLIENT_ID,
                0,
                fill,
                cmd.order_id,
                cmd.client_id,
                remaining,
                cmd.qty - remaining,
            )
        )
        return seq, remaining
