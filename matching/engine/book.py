"""The price-time order book: a pure, deterministic state machine ``(book, command) -> events``.

Layout (chosen for CPython speed, and typed so mypyc can compile it):

* Each side keeps a ``dict`` key -> ``_Level`` and a ``list`` of keys sorted ascending with the
  *best* level last, so "best" is ``keys[-1]`` and removing it is ``keys.pop()``.  Bids use
  ``key = price``; asks use ``key = -price``.  A taker therefore crosses while
  ``opp_keys[-1] >= limit_key`` on either side, and one matching loop serves both.
* A level is a FIFO ``deque`` of ``_Order`` plus eagerly maintained aggregate ``qty``/``count``
  (these *are* the incremental L2 view).  Cancel is O(1) by id: the order is marked dead and left
  in its deque as a tombstone that matching skips; a level whose live count reaches zero is
  dropped at once, and a deque that is mostly tombstones is compacted, so memory stays bounded.
* ``seq`` is the shard sequencer: the engine stamps every event with ``last_seq + 1``; time
  priority is this arrival order, never a wall clock.

Invariants asserted (TigerStyle) on every path that could break them; ``check_invariants`` runs
the expensive whole-book audit for tests.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterable
from typing import Final

from matching.engine.messages import (
    EMPTY_DELTA,
    SIDES,
    STP_MODES,
    CancelOrder,
    Command,
    CommandResult,
    EngineSnapshot,
    Event,
    L2View,
    Level,
    OpenOrder,
    PlaceOrder,
    RejectReason,
    Side,
    StpMode,
    new_cancel_rejected,
    new_cancelled,
    new_delta,
    new_opened,
    new_rejected,
    new_result,
    new_trade,
)
from matching.engine.simfill import SIM_CLIENT_ID, simulated_qty

EMPTY_RESULT: Final = CommandResult((), EMPTY_DELTA)
# A deque holding more than this many tombstones beyond twice its live orders is compacted.
_COMPACT_SLACK: Final = 32


class _Order:
    __slots__ = ("client_id", "live", "order_id", "price", "qty", "remaining", "side")

    def __init__(self, order_id: str, client_id: str, side: Side, price: int, qty: int, remaining: int):
        self.order_id = order_id
        self.client_id = client_id
        self.side: Side = side
        self.price = price
        self.qty = qty
        self.remaining = remaining
        self.live = True


class _Level:
    __slots__ = ("count", "orders", "price", "qty")

    def __init__(self, price: int) -> None:
        self.price = price
        self.orders: deque[_Order] = deque()
        self.qty = 0  # sum of live orders' remaining
        self.count = 0  # number of live orders in ``orders``


class BookEngine:
    """The real matcher (``MATCHER=book``).  One instance per symbol (= shard)."""

    def __init__(
        self,
        symbol: str,
        *,
        last_seq: int = 0,
        depth: int = 5,
        stp_default: StpMode = "cancel_newest",
    ) -> None:
        assert last_seq >= 0, "last_seq must be >= 0"
        assert 1 <= depth <= 1000, "depth must be in 1..1000"
        assert stp_default in STP_MODES, f"unknown stp mode {stp_default!r}"
        self.kind = "book"
        # True only in SimFill, which adds simulated liquidity after the real book is exhausted.
        self._simulates = False
        self.symbol = symbol
        self.depth = depth
        self.stp_default: StpMode = stp_default
        self._seq = last_seq
        self._bid_keys: list[int] = []
        self._ask_keys: list[int] = []
        self._bid_levels: dict[int, _Level] = {}
        self._ask_levels: dict[int, _Level] = {}
        self._orders: dict[str, _Order] = {}  # live resting orders by id
        self._known: set[str] = set()  # every order id ever accepted (dedupe memory)
        # Keys of the current top-``depth`` view per side (ascending, best last), for L2 deltas.
        self._bid_view: list[int] = []
        self._ask_view: list[int] = []

    # ------------------------------------------------------------------------------ properties

    @property
    def last_seq(self) -> int:
        return self._seq

    # ------------------------------------------------------------------------------- commands

    def apply(self, command: Command) -> CommandResult:
        if type(command) is PlaceOrder:
            return self.place(command)
        if type(command) is CancelOrder:
            return self.cancel(command)
        raise TypeError(f"unknown command {type(command).__name__}")

    def place(self, cmd: PlaceOrder) -> CommandResult:
        oid = cmd.order_id
        known = self._known
        n_known = len(known)
        known.add(oid)  # one hash probe both tests and records the id
        if len(known) == n_known:
            # Redelivered submit: already processed, so it must not match twice (idempotency).
            return EMPTY_RESULT
        side = cmd.side
        price = cmd.price
        qty = cmd.qty
        tif = cmd.tif
        stp = cmd.stp
        reason: RejectReason | None = None
        if side != "BUY" and side != "SELL":
            reason = "invalid_side"
        elif price <= 0:
            reason = "invalid_price"
        elif qty <= 0:
            reason = "invalid_qty"
        elif tif != "GTC" and tif != "IOC" and tif != "FOK":  # = TIFS, spelled out for speed
            reason = "invalid_tif"
        elif stp is not None and stp not in STP_MODES:
            reason = "invalid_stp"
        if reason is not None:
            known.discard(oid)  # a rejected order was never accepted: its id stays reusable
            self._seq += 1
            ev = new_rejected(self._seq, self.symbol, cmd.ts, oid, cmd.client_id, reason)
            return new_result((ev,), EMPTY_DELTA)
        if stp is None:
            stp = self.stp_default
        return self._execute(cmd, oid, side, price, qty, tif, stp)

    def _execute(
        self, cmd: PlaceOrder, oid: str, side: Side, price: int, qty: int, tif: str, stp: StpMode
    ) -> CommandResult:
        is_buy = side == "BUY"
        if is_buy:
            opp_keys = self._ask_keys
            opp_levels = self._ask_levels
            lim = -price
        else:
            opp_keys = self._bid_keys
            opp_levels = self._bid_levels
            lim = price
        symbol = self.symbol
        ts = cmd.ts
        cid = cmd.client_id
        seq = self._seq
        events: list[Event] = []
        crosses = bool(opp_keys) and opp_keys[-1] >= lim
        if not crosses and tif == "GTC" and not self._simulates:
            # Fast path (most adds): nothing to match, the whole order rests; one event.
            key = self._rest(oid, cid, side, price, qty, qty, is_buy)
            seq += 1
            self._seq = seq
            ev = new_opened(seq, symbol, ts, oid, cid, side, price, qty, qty, 0)
            own = self._key_delta(key, is_buy)
            if not own:
                return new_result((ev,), EMPTY_DELTA)
            return new_result((ev,), new_delta(own, ()) if is_buy else new_delta((), own))
        remaining = qty
        # Opposite-side keys whose level changed: the first in ``touched1`` (0 = none; prices are
        # positive, so 0 is never a key), any further ones in ``touched`` (allocated only then).
        touched1 = 0
        touched: list[int] | None = None
        stopped = False  # self-trade prevention cancelled the taker's remainder
        if crosses and cmd.post_only:
            seq += 1
            events.append(new_cancelled(seq, symbol, ts, oid, cid, "post_only", qty, 0))
            self._seq = seq
            return new_result(tuple(events), EMPTY_DELTA)
        if tif == "FOK" and self._fillable(cmd, opp_keys, opp_levels, lim, stp, qty) < qty:
            # All-or-nothing is decided before any fill, so a refused FOK changes nothing.
            seq += 1
            events.append(new_cancelled(seq, symbol, ts, oid, cid, "fok_unfilled", qty, 0))
            self._seq = seq
            return new_result(tuple(events), EMPTY_DELTA)
        if crosses:
            index = self._orders
            # Bounded: each pass of the outer loop consumes or stops at one price level, and each
            # pass of the inner loop removes one order (fill, tombstone or STP) or ends the taker.
            while opp_keys:
                k = opp_keys[-1]
                if k < lim:
                    break
                level = opp_levels[k]
                lp = level.price
                orders = level.orders
                qty_before = level.qty
                while orders:
                    m = orders[0]
                    if not m.live:
                        orders.popleft()  # tombstone of a cancelled order
                        continue
                    if m.client_id == cid:
                        # Self-trade prevention: never trade a client with itself.
                        if stp == "cancel_newest":
                            stopped = True
                            break
                        orders.popleft()
                        m.live = False
                        del index[m.order_id]
                        level.count -= 1
                        level.qty -= m.remaining
                        seq += 1
                        events.append(
                            new_cancelled(
                                seq,
                                symbol,
                                ts,
                                m.order_id,
                                m.client_id,
                                "self_trade",
                                m.remaining,
                                m.qty - m.remaining,
                            )
                        )
                        if stp == "cancel_both":
                            stopped = True
                            break
                        continue
                    mrem = m.remaining
                    if mrem <= remaining:
                        fill = mrem
                        orders.popleft()
                        m.live = False
                        m.remaining = 0
                        del index[m.order_id]
                        level.count -= 1
                    else:
                        fill = remaining
                        m.remaining = mrem - fill
                    remaining -= fill
                    level.qty -= fill
                    seq += 1
                    events.append(
                        new_trade(
                            seq,
                            symbol,
                            ts,
                            lp,
                            fill,
                            side,
                            m.order_id,
                            m.client_id,
                            m.remaining,
                            m.qty - m.remaining,
                            oid,
                            cid,
                            remaining,
                            qty - remaining,
                        )
                    )
                    if not remaining:
                        break
                if level.qty != qty_before:
                    if not touched1:
                        touched1 = k
                    elif touched is None:
                        touched = [touched1, k]
                    else:
                        touched.append(k)
                if level.count == 0:
                    opp_keys.pop()
                    del opp_levels[k]
                    assert not level.qty, "empty level with quantity"
                if stopped or not remaining:
                    break
        # Simulated liquidity hook (SimFill); the real book has none.
        if remaining and not stopped and self._simulates:
            seq, remaining = self._simulate(cmd, events, seq, remaining)
        own_touched = 0
        if remaining:
            if stopped:
                seq += 1
                events.append(
                    new_cancelled(seq, symbol, ts, oid, cid, "self_trade", remaining, qty - remaining)
                )
            elif tif == "GTC":
                own_touched = self._rest(oid, cid, side, price, qty, remaining, is_buy)
                seq += 1
                events.append(
                    new_opened(seq, symbol, ts, oid, cid, side, price, qty, remaining, qty - remaining)
                )
            else:
                assert tif == "IOC", "a FOK that passed its check must fill completely"
                seq += 1
                events.append(
                    new_cancelled(seq, symbol, ts, oid, cid, "ioc_remainder", remaining, qty - remaining)
                )
        self._seq = seq
        # L2 delta: opposite side (consumed levels) and own side (the resting level), if any.
        # Cheap exits inside _key_delta: most adds land below a full view and change nothing.
        own_delta: tuple[Level, ...] = self._key_delta(own_touched, is_buy) if own_touched else ()
        opp_delta: tuple[Level, ...] = ()
        if touched is None:
            if touched1:
                opp_delta = self._key_delta(touched1, not is_buy)
        elif is_buy:
            opp_delta = self._side_delta(touched, self._ask_keys, self._ask_levels, False)
        else:
            opp_delta = self._side_delta(touched, self._bid_keys, self._bid_levels, True)
        if not own_delta and not opp_delta:
            return new_result(tuple(events), EMPTY_DELTA)
        if is_buy:
            return new_result(tuple(events), new_delta(own_delta, opp_delta))
        return new_result(tuple(events), new_delta(opp_delta, own_delta))

    def _rest(
        self, oid: str, cid: str, side: Side, price: int, qty: int, remaining: int, is_buy: bool
    ) -> int:
        """Append a new resting order at the back of its level (created if new); returns its key."""
        if is_buy:
            levels = self._bid_levels
            key = price
        else:
            levels = self._ask_levels
            key = -price
        level = levels.get(key)
        if level is None:
            level = _Level(price)
            levels[key] = level
            insort(self._bid_keys if is_buy else self._ask_keys, key)
        o = _Order(oid, cid, side, price, qty, remaining)
        level.orders.append(o)
        level.qty += remaining
        level.count += 1
        self._orders[oid] = o
        return key

    def _simulate(self, cmd: PlaceOrder, events: list[Event], seq: int, remaining: int) -> tuple[int, int]:
        """SimFill hook: fill part of ``remaining`` from simulated liquidity; returns (seq, remaining)."""
        return seq, remaining

    def _fillable(
        self,
        cmd: PlaceOrder,
        opp_keys: list[int],
        opp_levels: dict[int, _Level],
        lim: int,
        stp: StpMode,
        want: int,
    ) -> int:
        """Quantity a taker could fill right now, walking exactly as matching would (read-only)."""
        cid = cmd.client_id
        total = 0
        i = len(opp_keys) - 1
        while i >= 0 and opp_keys[i] >= lim:
            for m in opp_levels[opp_keys[i]].orders:
                if not m.live:
                    continue
                if m.client_id == cid:
                    if stp == "cancel_oldest":
                        continue  # would be cancelled and skipped
                    return total  # matching stops here
                total += m.remaining
                if total >= want:
                    return total
            i -= 1
        if self._simulates:
            total += self._simulated_qty(cmd)
        return total

    def _simulated_qty(self, cmd: PlaceOrder) -> int:
        """SimFill hook: lots of simulated liquidity available to ``cmd`` after the real book."""
        return 0

    def cancel(self, cmd: CancelOrder) -> CommandResult:
        oid = cmd.order_id
        o = self._orders.get(oid)
        self._seq += 1
        if o is None:
            rej = new_cancel_rejected(self._seq, self.symbol, cmd.ts, oid, cmd.client_id, "not_open")
            return new_result((rej,), EMPTY_DELTA)
        if o.client_id != cmd.client_id:
            rej = new_cancel_rejected(self._seq, self.symbol, cmd.ts, oid, cmd.client_id, "not_owner")
            return new_result((rej,), EMPTY_DELTA)
        del self._orders[oid]
        o.live = False
        if o.side == "BUY":
            keys = self._bid_keys
            levels = self._bid_levels
            k = o.price
        else:
            keys = self._ask_keys
            levels = self._ask_levels
            k = -o.price
        level = levels[k]
        level.count -= 1
        level.qty -= o.remaining
        if level.count == 0:
            assert level.qty == 0, "empty level with quantity"
            del levels[k]
            i = bisect_left(keys, k)
            assert keys[i] == k, "level key missing from the sorted keys"
            del keys[i]
        elif len(level.orders) > (level.count << 1) + _COMPACT_SLACK:
            level.orders = deque([x for x in level.orders if x.live])
        ev = new_cancelled(
            self._seq, self.symbol, cmd.ts, oid, o.client_id, "user", o.remaining, o.qty - o.remaining
        )
        is_bid = o.side == "BUY"
        levels_delta = self._key_delta(k, is_bid)
        if not levels_delta:
            return new_result((ev,), EMPTY_DELTA)
        return new_result((ev,), new_delta(levels_delta, ()) if is_bid else new_delta((), levels_delta))

    # --------------------------------------------------------------------------------- L2 view

    def _key_delta(self, k: int, is_bid: bool) -> tuple[Level, ...]:
        """``_side_delta`` for one touched key, with the common cases decided without allocating.

        Untouched levels can only enter or leave the view when a touched level inside it appeared or
        vanished, so a touched key outside the old view of a full view cannot change it, and most
        commands cost one comparison here.
        """
        old = self._bid_view if is_bid else self._ask_view
        if len(old) == self.depth and k < old[0]:
            return ()  # below a full view: invisible
        if is_bid:
            level = self._bid_levels.get(k)
            if level is not None and k in old:
                return ((k, level.qty, level.count),)  # a visible level changed size
            return self._side_delta([k], self._bid_keys, self._bid_levels, True)
        level = self._ask_levels.get(k)
        if level is not None and k in old:
            return ((-k, level.qty, level.count),)
        return self._side_delta([k], self._ask_keys, self._ask_levels, False)

    def _side_delta(
        self, touched: list[int], keys: list[int], levels: dict[int, _Level], is_bid: bool
    ) -> tuple[Level, ...]:
        old = self._bid_view if is_bid else self._ask_view
        depth = self.depth
        if len(touched) == 1:
            k = touched[0]
            if len(old) == depth and k < old[0]:
                return ()  # below a full view: invisible
            level = levels.get(k)
            if level is not None and k in old:
                # The common case: an existing visible level changed size; membership unchanged.
                return ((k if is_bid else -k, level.qty, level.count),)
        elif len(old) == depth and max(touched) < old[0]:
            return ()
        new = keys[-depth:]
        if new == old:
            # Membership unchanged: only touched levels inside the view changed.
            out = [k for k in touched if k >= new[0]] if new else []
        else:
            if is_bid:
                self._bid_view = new
            else:
                self._ask_view = new
            if depth <= 16:
                # Small views (the norm): linear scans beat building three sets.
                out = [k for k in touched if k in new or k in old]
                for k in new:
                    if k not in old and k not in out:
                        out.append(k)
                for k in old:
                    if k not in new and k not in out:
                        out.append(k)
            else:
                in_new = set(new)
                in_old = set(old)
                changed = {k for k in touched if k in in_new or k in in_old}
                changed.update(in_new.symmetric_difference(in_old))
                out = list(changed)
        if not out:
            return ()
        out.sort(reverse=True)  # best first (keys ascend towards the best)
        res: list[Level] = []
        for k in out:
            level = levels.get(k)
            price = k if is_bid else -k
            if level is None or (len(new) == depth and k < new[0]):
                res.append((price, 0, 0))
            else:
                res.append((price, level.qty, level.count))
        return tuple(res)

    def l2(self, depth: int | None = None) -> L2View:
        """Top ``depth`` levels (default: the engine's view depth), best first."""
        n = self.depth if depth is None else depth
        assert n >= 0, "depth must be >= 0"
        if n == 0:
            return L2View((), ())
        bl = self._bid_levels
        al = self._ask_levels
        bids = tuple((k, bl[k].qty, bl[k].count) for k in reversed(self._bid_keys[-n:]))
        asks = tuple((-k, al[k].qty, al[k].count) for k in reversed(self._ask_keys[-n:]))
        return L2View(bids, asks)

    def best_bid(self) -> int | None:
        return self._bid_keys[-1] if self._bid_keys else None

    def best_ask(self) -> int | None:
        return -self._ask_keys[-1] if self._ask_keys else None

    # ----------------------------------------------------------------------- state & recovery

    def open_orders(self) -> list[OpenOrder]:
        """Resting orders in priority order: bids best first then FIFO, then asks likewise."""
        out: list[OpenOrder] = []
        for keys, levels in ((self._bid_keys, self._bid_levels), (self._ask_keys, self._ask_levels)):
            for k in reversed(keys):
                for o in levels[k].orders:
                    if o.live:
                        out.append(
                            OpenOrder(o.order_id, o.client_id, o.side, o.price, o.qty, o.qty - o.remaining)
                        )
        return out

    def order(self, order_id: str) -> OpenOrder | None:
        o = self._orders.get(order_id)
        if o is None:
            return None
        return OpenOrder(o.order_id, o.client_id, o.side, o.price, o.qty, o.qty - o.remaining)

    def snapshot(self) -> EngineSnapshot:
        return EngineSnapshot(
            kind=self.kind,
            symbol=self.symbol,
            last_seq=self._seq,
            depth=self.depth,
            stp_default=self.stp_default,
            orders=tuple(self.open_orders()),
            known_order_ids=tuple(sorted(self._known)),
        )

    def restore(self, snap: EngineSnapshot) -> None:
        """Replace this engine's state with ``snap`` (same symbol and kind required)."""
        if snap.kind != self.kind or snap.symbol != self.symbol:
            raise ValueError(
                f"snapshot of {snap.kind}/{snap.symbol} cannot restore {self.kind}/{self.symbol}"
            )
        self.depth = snap.depth
        self.stp_default = snap.stp_default
        self.restore_from_open_orders(snap.orders, snap.last_seq)
        self._known.update(snap.known_order_ids)

    def restore_from_open_orders(self, orders: Iterable[OpenOrder], last_seq: int) -> None:
        """Rebuild the book from resting orders given in priority order (e.g. from the store).

        Only the relative order of orders at the same price matters.  The dedupe memory is seeded
        with these ids only; redelivery of finished orders is the store's job to recognise.
        """
        if last_seq < 0:
            raise ValueError("last_seq must be >= 0")
        self._seq = last_seq
        self._bid_keys = []
        self._ask_keys = []
        self._bid_levels = {}
        self._ask_levels = {}
        self._orders = {}
        self._known = set()
        for r in orders:
            if r.side not in SIDES or r.price <= 0 or r.qty <= 0 or not 0 <= r.filled < r.qty:
                raise ValueError(f"invalid open order {r!r}")
            if r.order_id in self._orders:
                raise ValueError(f"duplicate open order {r.order_id!r}")
            if r.side == "BUY":
                keys, levels, k = self._bid_keys, self._bid_levels, r.price
            else:
                keys, levels, k = self._ask_keys, self._ask_levels, -r.price
            level = levels.get(k)
            if level is None:
                level = _Level(r.price)
                levels[k] = level
                insort(keys, k)
            o = _Order(r.order_id, r.client_id, r.side, r.price, r.qty, r.qty - r.filled)
            level.orders.append(o)
            level.qty += o.remaining
            level.count += 1
            self._orders[r.order_id] = o
            self._known.add(r.order_id)
        bb = self.best_bid()
        ba = self.best_ask()
        if bb is not None and ba is not None and bb >= ba:
            raise ValueError(f"open orders form a crossed book: bid {bb} >= ask {ba}")
        self._bid_view = self._bid_keys[-self.depth :]
        self._ask_view = self._ask_keys[-self.depth :]

    def state_hash(self) -> str:
        """sha256 of symbol, last_seq and the resting book in priority order (deterministic).

        Excludes the dedupe memory, so a book rebuilt from the store's open orders hashes equal to
        the one it replaces.
        """
        h = hashlib.sha256()
        h.update(f"{self.kind}|{self.symbol}|{self._seq}\n".encode())
        for o in self.open_orders():
            h.update(f"{o.side}|{o.price}|{o.order_id}|{o.client_id}|{o.qty}|{o.filled}\n".encode())
        return h.hexdigest()

    def check_invariants(self) -> None:
        """Full audit (O(book)); for tests.  Raises AssertionError on any violation."""
        for keys, levels, sign in (
            (self._bid_keys, self._bid_levels, 1),
            (self._ask_keys, self._ask_levels, -1),
        ):
            assert keys == sorted(keys), "keys not sorted"
            assert len(keys) == len(set(keys)) == len(levels), "keys and levels disagree"
            for k in keys:
                level = levels[k]
                assert level.price == sign * k, "level price does not match its key"
                live = [o for o in level.orders if o.live]
                assert len(live) == level.count > 0, "level count wrong or empty level kept"
                assert sum(o.remaining for o in live) == level.qty, "level qty wrong"
                for o in live:
                    assert 0 < o.remaining <= o.qty, "resting remaining out of range"
                    assert self._orders.get(o.order_id) is o, "live order missing from the index"
        assert len(self._orders) == sum(lv.count for lv in self._bid_levels.values()) + sum(
            lv.count for lv in self._ask_levels.values()
        ), "index size differs from live orders"
        bb = self.best_bid()
        ba = self.best_ask()
        assert bb is None or ba is None or bb < ba, "book crossed"
        assert self._bid_view == self._bid_keys[-self.depth :], "bid view stale"
        assert self._ask_view == self._ask_keys[-self.depth :], "ask view stale"


class SimFillEngine(BookEngine):
    """``MATCHER=simfill``: same interface and event contract as ``BookEngine`` (see simfill.py)."""

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
