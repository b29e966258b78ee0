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

``SimFillEngine`` itself lives in ``book.py`` beside ``BookEngine`` (so the optional mypyc build is one
compiled module, and a native class is only subclassed by compiled code); this module holds the
simulation's pure decision function.
"""

from __future__ import annotations

import hashlib
from typing import Final

from matching.engine.messages import PlaceOrder

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
