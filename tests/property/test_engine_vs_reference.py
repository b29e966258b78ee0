"""The engine and a naive reference book, driven with the same commands, must agree exactly.

After every step: identical events and L2 delta, identical L2 view and open orders, and the
invariants hold (book never crossed, Σ fills ≤ qty per order, seq gap-free, quantity conserved).
Snapshot/restore and rebuild-from-open-orders are steps too, so "restore then continue" is proven
against "never stopped" (the reference never restarts).

CI runs ~200 examples per engine kind; ``make test-deep`` (``-m deep`` with
``TULIP_HYPOTHESIS_PROFILE=deep``) runs many more.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from matching.engine import (
    CancelOrder,
    Command,
    OrderCancelled,
    OrderOpened,
    OrderRejected,
    PlaceOrder,
    TradeExecuted,
    engine_from_snapshot,
    make_engine,
    simulated_qty,
)
from tests.property.reference import ReferenceBook

SYMBOL = "TULIP"
DEPTH = 3  # small, so levels enter and leave the view often

settings.register_profile(
    "ci",
    max_examples=200,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "deep", max_examples=4000, stateful_step_count=120, deadline=None, suppress_health_check=list(HealthCheck)
)
CI = settings.get_profile("ci")
DEEP = settings.get_profile(os.environ.get("TULIP_HYPOTHESIS_PROFILE", "deep"))

CLIENTS = st.sampled_from(["alice", "bob", "carol"])
TIFS = st.sampled_from(["GTC", "GTC", "GTC", "IOC", "FOK"])
# "decrement" is a self-trade mode some venues have and this engine does not: it must be rejected.
STPS = st.sampled_from([None, None, "cancel_newest", "cancel_oldest", "cancel_both", "decrement"])


class EngineVsReference(RuleBasedStateMachine):
    kind = "book"

    def __init__(self) -> None:
        super().__init__()
        self.engine = make_engine(self.kind, SYMBOL, depth=DEPTH)
        self.ref = ReferenceBook(SYMBOL, DEPTH, simulated=simulated_qty if self.kind == "simfill" else None)
        self.n = 0
        self.placed: list[PlaceOrder] = []
        self.seq = 0
        self.qty: dict[str, int] = {}
        self.filled: dict[str, int] = {}
        self.cancelled: dict[str, int] = {}
        self.forgotten: set[str] = set()
        self.rejected: set[str] = set()  # invalid PlaceOrders: never accepted, so never deduplicated

    # ----------------------------------------------------------------- helpers
    def _apply(self, cmd: Command) -> None:
        result = self.engine.apply(cmd)
        events, delta = self.ref.apply(cmd)
        assert list(result.events) == events
        assert result.l2_delta == delta
        for ev in result.events:
            assert ev.seq == self.seq + 1, "seq must be gap-free"
            assert ev.symbol == SYMBOL
            self.seq = ev.seq
            if isinstance(ev, TradeExecuted):
                assert ev.qty > 0
                for oid, rem, filled in (
                    (ev.maker_order_id, ev.maker_remaining, ev.maker_filled),
                    (ev.taker_order_id, ev.taker_remaining, ev.taker_filled),
                ):
                    if oid.startswith("sim:"):
                        assert rem == 0 and filled == ev.qty
                        continue
                    self.filled[oid] = self.filled.get(oid, 0) + ev.qty
                    assert self.filled[oid] == filled, "cumulative filled must match the fills"
                    assert filled + rem == self.qty[oid]
                    assert self.filled[oid] <= self.qty[oid], "double fill"
            elif isinstance(ev, OrderCancelled):
                assert ev.order_id not in self.cancelled
                self.cancelled[ev.order_id] = ev.remaining
                assert ev.remaining + ev.filled == self.qty[ev.order_id]
            elif isinstance(ev, OrderOpened):
                assert ev.remaining + ev.filled == ev.qty == self.qty[ev.order_id]
            elif isinstance(ev, OrderRejected):
                self.rejected.add(ev.order_id)
        assert self.engine.last_seq == self.seq == self.ref.seq

    # ------------------------------------------------------------------- rules
    @rule(
        side=st.sampled_from(["BUY", "SELL"]),
        price=st.integers(96, 104),
        qty=st.integers(0, 9),
        tif=TIFS,
        post_only=st.sampled_from([False, False, False, True]),
        stp=STPS,
        client=CLIENTS,
    )
    def place(
        self, side: str, price: int, qty: int, tif: str, post_only: bool, stp: str | None, client: str
    ) -> None:
        self.n += 1
        cmd = PlaceOrder(f"o{self.n}", client, side, price, qty, self.n, tif, post_only, stp, f"ik{self.n}")  # type: ignore[arg-type]
        if qty > 0:
            self.qty[cmd.order_id] = qty
        self.placed.append(cmd)
        self._apply(cmd)

    @precondition(lambda self: self.placed)
    @rule(data=st.data(), owner=st.sampled_from([True, True, True, False]))
    def cancel_known(self, data: st.DataObject, owner: bool) -> None:
        cmd = data.draw(st.sampled_from(self.placed))
        self.n += 1
        client = cmd.client_id if owner else "mallory"
        self._apply(CancelOrder(cmd.order_id, client, self.n))

    @rule()
    def cancel_unknown(self) -> None:
        self.n += 1
        self._apply(CancelOrder("nope", "alice", self.n))

    @precondition(lambda self: self.placed)
    @rule(data=st.data())
    def redeliver_place(self, data: st.DataObject) -> None:
        """A redelivered PlaceOrder (same orderId) is ignored: no events, no state change.

        An invalid one is rejected again (its id was never accepted), which moves the sequence."""
        cmd = data.draw(st.sampled_from(self.placed))
        if cmd.order_id in self.forgotten:
            return  # the store, not the engine, recognises these after a rebuild (see below)
        before = self.engine.state_hash()
        self._apply(cmd)
        if cmd.order_id not in self.rejected:
            assert self.engine.state_hash() == before

    @rule()
    def snapshot_and_restore(self) -> None:
        before = self.engine.state_hash()
        self.engine = engine_from_snapshot(self.engine.snapshot())
        assert self.engine.state_hash() == before

    @rule()
    def rebuild_from_open_orders(self) -> None:
        before = self.engine.state_hash()
        fresh = make_engine(self.kind, SYMBOL, depth=DEPTH)
        fresh.restore_from_open_orders(self.engine.open_orders(), self.engine.last_seq)
        assert fresh.state_hash() == before
        self.engine = fresh
        # Documented semantics: the rebuilt dedupe memory is the open orders only.
        open_ids = {o.order_id for o in self.ref.orders}
        self.forgotten |= self.ref.known - open_ids
        self.ref.known = open_ids

    # -------------------------------------------------------------- invariants
    @invariant()
    def book_matches_reference_and_is_sound(self) -> None:
        self.engine.check_invariants()  # type: ignore[attr-defined]
        assert self.engine.l2() == self.ref.l2()
        assert self.engine.l2(50) == self.ref.l2(50)
        assert self.engine.open_orders() == self.ref.open_orders()
        bids, asks = self.engine.l2(1).bids, self.engine.l2(1).asks
        assert not bids or not asks or bids[0][0] < asks[0][0], "book crossed"
        resting = {o.order_id: o.qty - o.filled for o in self.engine.open_orders()}
        for oid, qty in self.qty.items():
            if oid in self.filled or oid in self.cancelled or oid in resting:
                # Quantity conserved: every lot is filled, cancelled, or still resting.
                total = self.filled.get(oid, 0) + self.cancelled.get(oid, 0) + resting.get(oid, 0)
                assert total == qty, (oid, total, qty)


class SimFillVsReference(EngineVsReference):
    kind = "simfill"


TestBookVsReference = EngineVsReference.TestCase
TestBookVsReference.settings = CI
TestSimFillVsReference = SimFillVsReference.TestCase
TestSimFillVsReference.settings = CI


# pytest-timeout's project default (300 s) is for ordinary tests; a deep run takes minutes.
@pytest.mark.deep
@pytest.mark.timeout(3600)
def test_deep_book_vs_reference() -> None:
    run_state_machine_as_test(EngineVsReference, settings=DEEP)


@pytest.mark.deep
@pytest.mark.timeout(3600)
def test_deep_simfill_vs_reference() -> None:
    run_state_machine_as_test(SimFillVsReference, settings=DEEP)
