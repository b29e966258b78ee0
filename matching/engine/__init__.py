"""Pure, deterministic matching core: stdlib only, integer ticks and lots, no clock, no I/O.

Public API (import from here):

* commands ``PlaceOrder``, ``CancelOrder``; events ``OrderOpened``, ``TradeExecuted``,
  ``OrderCancelled``, ``OrderRejected``, ``CancelRejected`` (all frozen slotted dataclasses, each
  with ``seq`` and ``symbol``); ``CommandResult(events, l2_delta)``, ``L2Delta``, ``L2View``,
  ``OpenOrder``, ``EngineSnapshot``;
* ``make_engine(kind, symbol, *, last_seq=0, depth=5, stp_default="cancel_newest")``,
  ``kind_from_env(os.environ)``, ``engine_from_snapshot(snap)``, the ``MatchingEngine`` protocol,
  ``BookEngine``, ``SimFillEngine``;
* edge conversion ``to_ticks``/``from_ticks``/``to_lots``/``from_lots``.

If the optional mypyc build is present (``make engine-compiled``) the compiled ``book`` and
``simfill`` modules are imported transparently; the source stays the fallback.  ``COMPILED`` says
which of the two is in use.
"""

import os as _os

from matching.engine.build_stamp import build_matches as _build_matches

# Optional mypyc build (see bench/engine/build_mypyc.py): searched before the sources unless
# TULIP_ENGINE_PURE=1, and only when it was built from exactly these sources (build_stamp). A
# missing folder costs nothing and leaves the interpreted engine in use.
if _os.environ.get("TULIP_ENGINE_PURE", "") != "1" and _build_matches(
    _os.path.join(_os.path.dirname(__file__), "_compiled")
):
    __path__.insert(0, _os.path.join(_os.path.dirname(__file__), "_compiled"))

from matching.engine.api import (
    DEFAULT_KIND,
    ENGINE_KINDS,
    EngineKind,
    MatchingEngine,
    engine_from_snapshot,
    kind_from_env,
    make_engine,
)
from matching.engine.book import _COMPILED as COMPILED
from matching.engine.book import BookEngine, SimFillEngine
from matching.engine.messages import (
    EMPTY_DELTA,
    CancelOrder,
    CancelReason,
    CancelRejected,
    CancelRejectReason,
    Command,
    CommandResult,
    EngineSnapshot,
    Event,
    L2Delta,
    L2View,
    Level,
    OpenOrder,
    OrderCancelled,
    OrderOpened,
    OrderRejected,
    PlaceOrder,
    RejectReason,
    Side,
    StpMode,
    TimeInForce,
    TradeExecuted,
)
from matching.engine.simfill import SIM_CLIENT_ID, simulated_qty
from matching.engine.units import from_lots, from_ticks, to_lots, to_ticks

__all__ = [
    "COMPILED",
    "DEFAULT_KIND",
    "EMPTY_DELTA",
    "ENGINE_KINDS",
    "SIM_CLIENT_ID",
    "BookEngine",
    "CancelOrder",
    "CancelReason",
    "CancelRejectReason",
    "CancelRejected",
    "Command",
    "CommandResult",
    "EngineKind",
    "EngineSnapshot",
    "Event",
    "L2Delta",
    "L2View",
    "Level",
    "MatchingEngine",
    "OpenOrder",
    "OrderCancelled",
    "OrderOpened",
    "OrderRejected",
    "PlaceOrder",
    "RejectReason",
    "Side",
    "SimFillEngine",
    "StpMode",
    "TimeInForce",
    "TradeExecuted",
    "engine_from_snapshot",
    "from_lots",
    "from_ticks",
    "kind_from_env",
    "make_engine",
    "simulated_qty",
    "to_lots",
    "to_ticks",
]
