"""The interface both matchers implement, and the factory that picks one by configuration."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final, Literal, Protocol, TypeAlias

from matching.engine.book import BookEngine, SimFillEngine
from matching.engine.messages import (
    Command,
    CommandResult,
    EngineSnapshot,
    L2View,
    OpenOrder,
    Side,
    StpMode,
)

EngineKind: TypeAlias = Literal["book", "simfill"]
ENGINE_KINDS: Final = ("book", "simfill")
DEFAULT_KIND: Final = "book"


class MatchingEngine(Protocol):
    """One symbol's (= one shard's) matcher: a pure state machine ``(book, command) -> events``."""

    kind: str
    symbol: str
    depth: int

    @property
    def last_seq(self) -> int: ...

    def apply(self, command: Command) -> CommandResult: ...

    def l2(self, depth: int | None = None) -> L2View: ...

    def open_orders(self) -> list[OpenOrder]: ...

    def order(self, order_id: str) -> OpenOrder | None: ...

    def first_crossing(self, side: Side, price: int, client_id: str | None = None) -> str | None: ...

    def snapshot(self) -> EngineSnapshot: ...

    def restore(self, snap: EngineSnapshot) -> None: ...

    def restore_from_open_orders(self, orders: Iterable[OpenOrder], last_seq: int) -> None: ...

    def state_hash(self) -> str: ...


def make_engine(
    kind: str,
    symbol: str,
    *,
    last_seq: int = 0,
    depth: int = 5,
    stp_default: StpMode = "cancel_newest",
) -> MatchingEngine:
    """Build a matcher: ``kind`` is ``"book"`` (real engine) or ``"simfill"`` (phase-1 simulator)."""
    if kind == "book":
        return BookEngine(symbol, last_seq=last_seq, depth=depth, stp_default=stp_default)
    if kind == "simfill":
        return SimFillEngine(symbol, last_seq=last_seq, depth=depth, stp_default=stp_default)
    raise ValueError(f"MATCHER must be one of {'|'.join(ENGINE_KINDS)}, got {kind!r}")


def kind_from_env(environ: Mapping[str, str]) -> EngineKind:
    """Read ``MATCHER`` (``simfill|book``, default ``book``); bad values fail with one clear line."""
    value = environ.get("MATCHER", DEFAULT_KIND).strip().lower() or DEFAULT_KIND
    if value == "book":
        return "book"
    if value == "simfill":
        return "simfill"
    raise ValueError(f"MATCHER must be one of {'|'.join(ENGINE_KINDS)}, got {value!r}")


def engine_from_snapshot(snap: EngineSnapshot) -> MatchingEngine:
    """A new engine of the snapshot's kind, continuing exactly where the snapshotted one stopped."""
    engine = make_engine(snap.kind, snap.symbol, depth=snap.depth, stp_default=snap.stp_default)
    engine.restore(snap)
    return engine
