"""Pure checks: no double fills (Σ fills ≤ qty, == filledQty; docs/rules.md), one finding per
inconsistency, and a Reconciled event carrying a finding's key resolves exactly that finding."""

from ops import checks
from ops.storage import EventRow
from tulip.schema import OrderItem, TradeItem


def _order(order_id, qty, filled, status="PARTIALLY_FILLED", ik=None):
    return OrderItem(OrderItem.key(order_id), OrderItem.key(order_id), order_id=order_id,
                     client_id="c", symbol="X", side="SELL", qty=qty, price_ticks=100,
                     status=status, filled_qty=filled, idempotency_key=ik or order_id,
                     created_at="2026-01-01T00:00:00.000Z", accepted_at="", updated_at="")


def _snapshot(orders, trades, events, last_seq):
    symbol = checks.SymbolSnapshot("X", last_seq, trades, events, [])
    return checks.Snapshot(orders, {"X": symbol})


def _trade(seq, qty, buy, sell):
    trade_id = f"X-{seq:012d}"
    return TradeItem(TradeItem.key(trade_id), TradeItem.key(trade_id), trade_id=trade_id,
                     symbol="X", seq=seq, qty=qty, price_ticks=100, buy_order_id=buy,
                     sell_order_id=sell, ts="")


def _executed(seq):
    return EventRow(seq, "TradeExecuted", "", {"tradeId": f"X-{seq:012d}"})


def test_overfill_is_one_double_fill_finding_not_also_a_mismatch():
    snap = _snapshot([_order("s", 10, 4), _order("b1", 4, 4, "FILLED"),
                      _order("b2", 8, 8, "FILLED")],
                     [_trade(1, 4, "b1", "s"), _trade(2, 8, "b2", "s")],
                     [_executed(1), _executed(2)], 2)
    findings, resolved = checks.check(snap, 60)
    assert [(f.kind, f.order_ids) for f in findings] == [("double_fill", ("s",))]
    assert resolved == []


def test_exact_fill_is_clean_and_mismatch_is_found():
    trades = [_trade(1, 4, "b", "s")]
    clean = _snapshot([_order("s", 10, 4), _order("b", 4, 4, "FILLED")], trades, [_executed(1)], 1)
    assert checks.check(clean, 60) == ([], [])
    off = _snapshot([_order("s", 10, 5), _order("b", 4, 4, "FILLED")], trades, [_executed(1)], 1)
    assert [f.kind for f in checks.check(off, 60)[0]] == ["filled_qty_mismatch"]


def test_reconciled_event_resolves_its_key_only():
    trades = [_trade(1, 4, "b", "s")]
    orders = [_order("s", 10, 5), _order("b", 4, 4, "FILLED")]
    key = checks.check(_snapshot(orders, trades, [_executed(1)], 1), 60)[0][0].key
    reconciled = EventRow(2, "Reconciled", "", {"findingKey": key, "orderIds": ["s"],
                                                "tradeIds": ["X-000000000001"]})
    findings, resolved = checks.check(_snapshot(orders, trades, [_executed(1), reconciled], 2), 60)
    assert findings == [] and [f.key for f in resolved] == [key]
    # The order drifts further: new numbers, new key, reported again.
    drifted = [_order("s", 10, 6), _order("b", 4, 4, "FILLED")]
    again, _ = checks.check(_snapshot(drifted, trades, [_executed(1), reconciled], 2), 60)
    assert [f.kind for f in again] == ["filled_qty_mismatch"]


def test_gaps_are_ranges():
    events = [EventRow(s, "OrderOpened", "", {}) for s in (1, 2, 5, 6, 9)]
    snap = _snapshot([], [], events, 9)
    assert [f.key for f in checks.check(snap, 60)[0]] == ["seq_gap:X:3-4", "seq_gap:X:7-8"]


def test_a_user_cancel_on_a_deposed_fork_is_named_by_its_divergent_finding():
    """The deposed leader (epoch 1000001) acknowledged and sequenced a cancel after the fork at
    seq 1; the new leader (epoch 2000001) filled that order: the finding names it."""
    from tulip.epochs import EpochStart, canonical

    chain = canonical([EpochStart(1_000_001, 0, 0), EpochStart(2_000_001, 1_000_001, 1)])
    events = [EventRow(1, "OrderOpened", "", {"orderId": "s"}, 1_000_001),
              EventRow(2, "OrderCancelled", "", {"orderId": "s", "reason": "user"}, 1_000_001),
              EventRow(3, "OrderCancelled", "", {"orderId": "x", "reason": "ioc"}, 1_000_001),
              EventRow(2, "TradeExecuted", "", {"tradeId": "X-2"}, 2_000_001)]
    symbol = checks.SymbolSnapshot("X", 2, [], events, [], chain)
    [finding] = checks.divergent_findings(symbol, [_order("s", 4, 4, "FILLED")])
    assert finding.kind == "divergent_commit" and finding.order_ids == ("s",)


def test_a_fill_that_landed_between_the_two_trade_reads_is_no_mismatch():
    """Under trading the orders are read after the trades (ops/ledger.py): an order may already
    hold a fill that only the second trade read sees. Outside that window it is a mismatch."""
    first = [_trade(1, 1, "b", "s")]
    later = [*first, _trade(2, 3, "b2", "s")]
    orders = [_order("s", 10, 4), _order("b", 1, 1, "FILLED"), _order("b2", 3, 3, "FILLED")]
    snap = _snapshot(orders, first, [_executed(1)], 1)
    assert {f.order_ids[0] for f in checks.check(snap, 60)[0]} == {"s", "b2"}
    snap.symbols["X"].later_trades = later
    assert checks.check(snap, 60)[0] == []
    behind = [_order("s", 10, 0), orders[1], orders[2]]  # filledQty below the first read
    snap = _snapshot(behind, first, [_executed(1)], 1)
    snap.symbols["X"].later_trades = later
    assert [f.key for f in checks.check(snap, 60)[0]] == ["filled_qty_mismatch:s:1:0"]


def test_a_fill_under_an_epoch_taken_during_the_snapshot_is_no_mismatch():
    """A takeover between the reads: the second trade read holds a fill made under the new
    epoch, which only the chain read after it covers (the region chaos run at size)."""
    from tulip.epochs import EpochStart, canonical

    first_chain = canonical([EpochStart(5, 0, 0)])
    later_chain = canonical([EpochStart(5, 0, 0), EpochStart(6, 5, 1)])
    fill = _trade(2, 1, "b", "s")
    fill.epoch = 6
    orders = [_order("s", 10, 1), _order("b", 1, 1, "FILLED")]
    symbol = checks.SymbolSnapshot("X", 1, [], [_executed(1)], [], first_chain, [fill])
    snap = checks.Snapshot(orders, {"X": symbol})
    assert {f.order_ids[0] for f in checks.fill_findings(snap)} == {"s", "b"}
    symbol.later_chain = later_chain
    assert checks.fill_findings(snap) == []


def test_an_acknowledged_cancel_a_later_write_overtook_is_a_finding():
    """A cut-off leader acknowledged the cancel of an ACCEPTED order; the new leader, which never
    saw it, matched the order, and its later write won (last writer wins). The cancel's record
    still says what the owner was told."""
    from tulip.schema import CancelItem

    def record(order_id):
        key = CancelItem.key(order_id)
        return CancelItem(key, key, order_id=order_id, client_id="c", symbol="X",
                          cancelled_at="2026-01-01T00:00:01.000Z", region="us-east-1")

    trades = [_trade(1, 4, "b", "s")]
    orders = [_order("s", 4, 4, "FILLED"), _order("b", 4, 4, "FILLED"),
              _order("kept", 4, 0, "CANCELLED")]
    snap = _snapshot(orders, trades, [_executed(1)], 1)
    snap.cancels = [record("s"), record("kept")]
    [finding] = checks.check(snap, 60)[0]
    assert (finding.kind, finding.key, finding.order_ids) == (
        "cancel_overtaken", "cancel_overtaken:s:FILLED:4", ("s",))
    reconciled = EventRow(2, "Reconciled", "", {"findingKey": finding.key, "orderIds": ["s"],
                                                "tradeIds": list(finding.trade_ids)})
    snap = _snapshot(orders, trades, [_executed(1), reconciled], 2)
    snap.cancels = [record("s"), record("kept")]
    assert checks.check(snap, 60) == ([], [finding])


def test_a_reconciled_event_a_later_fork_left_off_the_chain_resolves_nothing():
    """Seen in a region chaos run: a failover's fork reached back past the Reconciled events that
    compensated an earlier deposed tail; reconciliation still counted them and never compensated
    that tail again on the new chain."""
    from tulip.epochs import EpochStart, canonical

    trade = _trade(1, 4, "b", "s")
    trade.epoch = 10
    orders = [_order("s", 10, 5), _order("b", 4, 4, "FILLED")]
    executed = EventRow(1, "TradeExecuted", "", {"tradeId": trade.trade_id}, epoch=10)
    # Epoch 20 continued 10 after seq 1; epoch 30 then forked from 20 at seq 1 as well.
    chain = canonical([EpochStart(10, 0, 0), EpochStart(20, 10, 1), EpochStart(30, 20, 1)])
    for epoch_of_fix, on_chain in ((20, False), (30, True)):
        symbol = checks.SymbolSnapshot("X", 1, [trade], [executed], [], chain)
        (finding,), _ = checks.check(checks.Snapshot(orders, {"X": symbol}), 60)
        fix = EventRow(2, "Reconciled", "", {"findingKey": finding.key, "orderIds": ["s"],
                                             "tradeIds": [trade.trade_id]}, epoch=epoch_of_fix)
        symbol = checks.SymbolSnapshot("X", 2, [trade], [executed, fix], [], chain)
        findings, resolved = checks.check(checks.Snapshot(orders, {"X": symbol}), 60)
        open_keys = [f.key for f in findings if f.kind == "filled_qty_mismatch"]
        assert open_keys == ([] if on_chain else [finding.key]), epoch_of_fix
        assert [f.key for f in resolved] == ([finding.key] if on_chain else []), epoch_of_fix


def test_an_order_state_replicated_after_its_epochs_compensation_reopens_the_finding():
    """Seen in a region chaos run at size (seed 2208): the deposed leader's epoch 1000001 decided
    order "late" (a FOK it cancelled) after the fork at seq 1; its events replicated first and
    were compensated, the order's own write only after. Its key is the same (the epoch and its
    events), yet the Reconciled event never named the order: the finding opens again until one
    does. An order that left the finding since (the compensation cancelled it on the chain)
    does not reopen it."""
    from tulip.epochs import EpochStart, canonical

    chain = canonical([EpochStart(1_000_001, 0, 0), EpochStart(2_000_001, 1_000_001, 1)])
    events = [EventRow(1, "OrderOpened", "", {"orderId": "s"}, 1_000_001),
              EventRow(2, "OrderCancelled", "", {"orderId": "late", "reason": "fok"}, 1_000_001),
              EventRow(2, "OrderOpened", "", {"orderId": "n"}, 2_000_001)]

    def deposed(order_id, status):
        order = _order(order_id, 4, 0, status)
        order.epoch, order.seq = 1_000_001, 2
        return order

    def findings_with(orders, fixes):
        symbol = checks.SymbolSnapshot("X", 2 + len(fixes), [], [*events, *fixes], [], chain)
        return checks.check(checks.Snapshot([*orders, _order("n", 4, 0, "OPEN")], {"X": symbol}),
                            60)

    [first], _ = findings_with([deposed("s", "OPEN")], [])
    assert first.kind == "divergent_commit" and first.order_ids == ("s",)
    fix = EventRow(3, "Reconciled", "", {"findingKey": first.key, "orderIds": ["s"]}, 2_000_001)
    assert findings_with([deposed("s", "OPEN")], [fix]) == ([], [first])
    [again], _ = findings_with([deposed("s", "OPEN"), deposed("late", "CANCELLED")], [fix])
    assert again.key == first.key and again.order_ids == ("late", "s")
    second = EventRow(4, "Reconciled", "", {"findingKey": again.key, "orderIds": ["late", "s"]},
                      2_000_001)
    assert findings_with([deposed("late", "CANCELLED")], [fix, second])[0] == []
