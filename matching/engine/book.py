"""The price-time order book: a pure, deterministic state machine ``(book, command) -> events``.

Layout (chosen for speed both interpreted and compiled by mypyc, where every name below is a native
attribute or a native list/dict operation):

* Each side keeps its levels in two parallel lists sorted ascending by key with the *best* level
  last -- ``keys`` (ints) and ``lvls`` (the ``_Level`` objects) -- plus a tick-indexed ``_Ladder``
  price -> level for placing at an existing price.  Bids use ``key = price``; asks use
  ``key = -price``.  So "best" is
  ``lvls[-1]`` without a lookup, removing it is two ``pop()``s, a taker crosses while
  ``opp_keys[-1] >= limit_key`` on either side, and one matching loop serves both.
* A level is a FIFO ``list`` of ``_Order`` with a ``head`` index (``orders[:head]`` are consumed),
  plus eagerly maintained aggregate ``qty``/``count`` (these *are* the incremental L2 view).  Taking
  the oldest order is ``head += 1`` (mypyc has no native deque, but indexes a list natively); the
  consumed prefix is cut off once it is most of the list.  Cancel is O(1) by id: the ladder finds
  the order's level, the order is marked dead and stays in the list as a tombstone that matching
  skips; a level whose live count reaches zero is dropped at once, and a list that is mostly
  tombstones is compacted, so memory stays bounded.
* The dedupe memory (every order id ever accepted) is a ``set`` probed once per PlaceOrder
  (``add`` then a size check); the O(1) cancel index is a separate ``dict`` of *live* orders only.
  Measured, a set insert of a new id costs about half a dict insert (one cache line per probe
  instead of an index slot plus an entry), and the live index stays small enough to stay in
  cache when the book is, so two tables beat one merged map.
* The L2 top-N view is never stored: "visible" means "among the top ``depth`` keys", decided from
  the sorted keys and the changed level's position, so most commands settle their delta with one
  comparison and a single changed level never allocates more than its own entry.
* ``seq`` is the shard sequencer: the engine stamps every event with ``last_seq + 1``; time
  priority is this arrival order, never a wall clock.

Invariants asserted (TigerStyle) on every path that could break them; ``check_invariants`` runs
the expensive whole-book audit for tests.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections.abc import Iterable
from types import FunctionType
from typing import Final, TypeAlias

from matching.engine.messages import (
    EMPTY_DELTA,
    SIDES,
    STP_MODES,
    CancelOrder,
    CancelReason,
    Command,
    CommandResult,
    EngineSnapshot,
    Event,
    L2View,
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
# A level list holding more than this many tombstones beyond twice its live orders is compacted.
_COMPACT_SLACK: Final = 32
# A level list whose consumed prefix is longer than this (and than its unconsumed rest) is cut.
_HEAD_SLACK: Final = 64


def _native_bisect_left(keys: list[int], key: int) -> int:
    """``bisect_left`` over a list of ints, as a loop mypyc compiles to native compares.

    Compiled, calling the C ``bisect`` goes through the generic call protocol and boxes ``key``
    (~600 instructions per call, measured with callgrind); this loop costs a tenth of that.
    Interpreted it would be the slow one, so the engine uses it only when compiled (``_COMPILED``).
    """
    lo = 0
    hi = len(keys)
    while lo < hi:
        mid = (lo + hi) >> 1
        if keys[mid] < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


# True in the mypyc build: a compiled function is not a Python function object.
_COMPILED: Final = not isinstance(_native_bisect_left, FunctionType)


_LADDER_MIN: Final = 64  # slots of a side's first price window
# A window never spans more ticks than this (8 bytes a slot); levels outside it go to a dict.
_LADDER_MAX: Final = 1 << 16


class _Ladder:
    """One side's levels by price: a window of tick-indexed slots, plus a dict for far prices.

    Integer ticks make a price ladder the natural index: finding a level is one subtraction and
    one list index, where a ``dict[int, ...]`` probe first boxes the price and then compares two
    distinct int objects through the generic protocol (~300 instructions compiled, measured).
    The window grows by doubling towards a price outside it, so rebuilds are amortised O(1), and
    never beyond ``_LADDER_MAX`` slots: a price that would stretch it further is kept in ``far``.
    """

    __slots__ = ("at", "base", "far")

    def __init__(self) -> None:
        self.at: list[_Level | None] = []  # at[price - base]
        self.base = 0
        self.far: dict[int, _Level] = {}

    def get(self, price: int) -> _Level | None:
        i = price - self.base
        if 0 <= i < len(self.at):
            return self.at[i]
        return self.far.get(price)

    def put(self, price: int, level: _Level) -> None:
        at = self.at
        i = price - self.base
        if 0 <= i < len(at):
            assert at[i] is None, "a price has one level"
            at[i] = level
            return
        lo = min(self.base, price) if at else price
        hi = max(self.base + len(at), price + 1) if at else price + 1
        size = max(hi - lo, 2 * len(at), _LADDER_MIN)
        if hi - lo > _LADDER_MAX:
            self.far[price] = level
            return
        size = min(size, _LADDER_MAX)
        new_base = lo - (size - (hi - lo)) // 2  # centre the slack around the used span
        grown: list[_Level | None] = [None] * size
        for j in range(len(at)):
            grown[self.base + j - new_base] = at[j]
        for p in [p for p in self.far if 0 <= p - new_base < size]:
            grown[p - new_base] = self.far.pop(p)
        grown[price - new_base] = level
        self.at = grown
        self.base = new_base

    def drop(self, price: int) -> None:
        i = price - self.base
        if 0 <= i < len(self.at):
            assert self.at[i] is not None, "dropping a missing level"
            self.at[i] = None
        else:
            del self.far[price]

    def levels(self) -> list[_Level]:
        """Every level held, in no particular order (for audits)."""
        return [lv for lv in self.at if lv is not None] + list(self.far.values())


# An L2 delta entry as built here: ``(level.boxed, qty, count)``.  At run time it *is* a ``Level``
# tuple; its static type only admits that the price is the level's boxed int object, created once
# with the level, where a native int would be boxed (allocated) anew for every entry reported.
_Entry: TypeAlias = tuple[object, int, int]


class _Level:
    __slots__ = ("boxed", "count", "head", "orders", "price", "qty")

    def __init__(self, price: int) -> None:
        self.price = price
        self.boxed: object = price  # the price as one int object, shared by every delta entry
        self.orders: list[_Order] = []
        self.head = 0  # orders[:head] are consumed (filled, cancelled): never looked at again
        self.qty = 0  # sum of live orders' remaining
        self.count = 0  # number of live orders in ``orders[head:]``


class _Order:
    # No reference back to its level (the ladder finds that): orders and levels form no cycles,
    # so a dropped level and its dead orders are freed by reference counting alone.
    __slots__ = ("client_id", "live", "order_id", "price", "qty", "remaining", "side")

    def __init__(
        self, order_id: str, client_id: str, side: Side, price: int, qty: int, remaining: int
    ) -> None:
        self.order_id = order_id
        self.client_id = client_id
        self.side: Side = side
        self.price = price
        self.qty = qty
        self.remaining = remaining
        self.live = True  # False once filled or cancelled (then a tombstone until passed)


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
        self._bid_lvls: list[_Level] = []  # parallel to _bid_keys
        self._ask_lvls: list[_Level] = []
        self._bid_ladder = _Ladder()  # price -> level, for placing at an existing price
        self._ask_ladder = _Ladder()
        self._orders: dict[str, _Order] = {}  # live resting orders by id
        self._known: set[str] = set()  # every order id ever accepted (dedupe memory)

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
        # Each literal is compared once: unequal strings of equal length cost a memcmp call.
        is_buy = side == "BUY"
        is_gtc = tif == "GTC"
        reason: RejectReason | None = None
        if not is_buy and side != "SELL":
            reason = "invalid_side"
        elif price <= 0:
            reason = "invalid_price"
        elif qty <= 0:
            reason = "invalid_qty"
        elif not is_gtc and tif != "IOC" and tif != "FOK":  # = TIFS, spelled out for speed
            reason = "invalid_tif"
        elif stp is not None and stp not in STP_MODES:
            reason = "invalid_stp"
        if reason is not None:
            known.discard(oid)  # a rejected order was never accepted: its id stays reusable
            self._seq += 1
            rej = new_rejected(self._seq, self.symbol, cmd.ts, oid, cmd.client_id, reason)
            return new_result((rej,), EMPTY_DELTA)
        if is_buy:
            opp_keys = self._ask_keys
            key = price
        else:
            opp_keys = self._bid_keys
            key = -price
        if is_gtc and (not opp_keys or opp_keys[-1] < -key) and not self._simulates:
            # Fast path (most adds): nothing to match, the whole order rests; one event.
            cid = cmd.client_id
            own = self._rest(oid, cid, side, price, qty, qty, key, is_buy)
            seq = self._seq + 1
            self._seq = seq
            ev = new_opened(seq, self.symbol, cmd.ts, oid, cid, side, price, qty, qty, 0)
            if not len(own):  # len(): mypyc tests a tuple's truth through the generic protocol
                return new_result((ev,), EMPTY_DELTA)
            if is_buy:
                return new_result((ev,), new_delta(own, ()))  # type: ignore[arg-type]  # _Entry is Level
            return new_result((ev,), new_delta((), own))  # type: ignore[arg-type]
        return self._execute(cmd, key, is_buy, is_gtc, self.stp_default if stp is None else stp)

    def _execute(
        self, cmd: PlaceOrder, key: int, is_buy: bool, is_gtc: bool, stp: StpMode
    ) -> CommandResult:
        """The taker path: post-only and FOK checks, matching, then rest or cancel the remainder."""
        if is_buy:
            opp_keys = self._ask_keys
            opp_lvls = self._ask_lvls
            opp_ladder = self._ask_ladder
        else:
            opp_keys = self._bid_keys
            opp_lvls = self._bid_lvls
            opp_ladder = self._bid_ladder
        lim = -key  # the limit in the opposite side's key space
        qty = cmd.qty
        crosses = bool(opp_keys) and opp_keys[-1] >= lim
        if crosses and cmd.post_only:
            return self._refuse(cmd, "post_only")
        if not is_gtc and cmd.tif == "FOK" and self._fillable(cmd, opp_keys, opp_lvls, lim, stp, qty) < qty:
            # All-or-nothing is decided before any fill, so a refused FOK changes nothing.
            return self._refuse(cmd, "fok_unfilled")
        events: list[Event] = []
        seq = self._seq
        remaining = qty
        # The opposite side's delta, gathered while matching: ``removed`` levels left the book (the
        # best ones, in order; the first ``depth`` of them, which were visible, are in ``left`` as
        # ``(price, 0, 0)``, allocated only then), and ``partial`` says the level matching stopped
        # in changed but stays.
        removed = 0
        left: list[_Entry] | None = None
        partial = False
        stopped = False  # self-trade prevention cancelled the taker's remainder
        if crosses:
            depth = self.depth
            # Bounded: each pass consumes the best level (which then leaves) or ends the taker in it.
            while opp_keys and opp_keys[-1] >= lim:
                level = opp_lvls[-1]
                qty_before = level.qty
                seq, remaining, stopped = self._take_level(level, cmd, stp, events, seq, remaining)
                if level.count:
                    partial = level.qty != qty_before
                    break  # the taker is filled or stopped with orders left here
                opp_keys.pop()
                opp_lvls.pop()
                opp_ladder.drop(level.price)
                if removed < depth:
                    if left is None:
                        left = [(level.boxed, 0, 0)]
                    else:
                        left.append((level.boxed, 0, 0))
                removed += 1
                if stopped or not remaining:
                    break
        # Simulated liquidity hook (SimFill); the real book has none.
        if remaining and not stopped and self._simulates:
            seq, remaining = self._simulate(cmd, events, seq, remaining)
        own: tuple[_Entry, ...] = ()
        if remaining:
            own, seq = self._close_taker(cmd, key, is_buy, is_gtc, events, seq, remaining, stopped)
        self._seq = seq
        # L2 delta: opposite side (consumed levels) and own side (the resting level), if any.
        opp: tuple[_Entry, ...] = ()
        if left is not None:
            opp = self._sweep_delta(left, removed, partial, not is_buy)
        elif partial:
            # Only the best level changed and it is still there: it is visible (depth >= 1).
            level = opp_lvls[-1]
            opp = ((level.boxed, level.qty, level.count),)
        out = tuple(events)
        if not len(own) and not len(opp):
            return new_result(out, EMPTY_DELTA)
        if is_buy:
            return new_result(out, new_delta(own, opp))  # type: ignore[arg-type]  # _Entry is Level
        return new_result(out, new_delta(opp, own))  # type: ignore[arg-type]

    def _refuse(self, cmd: PlaceOrder, reason: CancelReason) -> CommandResult:
        """Cancel the whole taker before it touches the book (post-only would cross, FOK is short)."""
        seq = self._seq + 1
        self._seq = seq
        ev = new_cancelled(seq, self.symbol, cmd.ts, cmd.order_id, cmd.client_id, reason, cmd.qty, 0)
        return new_result((ev,), EMPTY_DELTA)

    def _take_level(
        self, level: _Level, cmd: PlaceOrder, stp: StpMode, events: list[Event], seq: int, remaining: int
    ) -> tuple[int, int, bool]:
        """The taker's sweep of one price level, oldest order first; returns ``(seq, remaining, stopped)``.

        Each resting order is filled at the level's price, or, if it is the taker's own client's,
        handled by self-trade prevention; ``stopped`` says that ended the taker.  On return the
        level's ``count``/``qty`` are right and ``head`` is past the consumed orders; a level left
        with no live order (``count == 0``) is the caller's to drop.
        """
        oid = cmd.order_id
        cid = cmd.client_id
        side = cmd.side
        qty = cmd.qty
        ts = cmd.ts
        symbol = self.symbol
        index = self._orders
        lp = level.price
        orders = level.orders
        h = level.head
        count = level.count
        stopped = False
        # Bounded: each pass removes one order (fill, tombstone or STP) or ends the taker.
        while count:  # a live order exists at or after h while count > 0
            m = orders[h]
            if not m.live:
                h += 1  # tombstone of a cancelled order
                continue
            if m.client_id == cid:
                # Self-trade prevention: never trade a client with itself.
                if stp == "cancel_newest":
                    stopped = True  # the taker's remainder is cancelled; the resting order stays
                    break
                h += 1
                count -= 1
                seq = self._cancel_self_trade(m, level, ts, seq, events)
                if stp == "cancel_both":
                    stopped = True
                    break
                continue  # cancel_oldest: the taker goes on to the next order
            mrem = m.remaining
            if mrem <= remaining:
                fill = mrem
                h += 1
                m.live = False
                m.remaining = 0
                del index[m.order_id]
                count -= 1
            else:
                fill = remaining
                m.remaining = mrem - fill
            remaining -= fill
            level.qty -= fill
            seq += 1
            # At the resting order's price; each leg's remaining and filled as after this fill.
            events.append(
                new_trade(seq, symbol, ts, lp, fill, side, m.order_id, m.client_id, m.remaining,
                          m.qty - m.remaining, oid, cid, remaining, qty - remaining)
            )
            if not remaining:
                break
        level.count = count
        if not count:
            assert level.qty == 0, "empty level with quantity"
        elif h > _HEAD_SLACK and h + h > len(orders):
            del orders[:h]  # amortised O(1): each order is cut once
            level.head = 0
        else:
            level.head = h
        return seq, remaining, stopped

    def _cancel_self_trade(self, m: _Order, level: _Level, ts: int, seq: int, events: list[Event]) -> int:
        """Self-trade prevention takes resting order ``m`` off ``level``; returns the event's seq.

        The caller has already moved past ``m`` and counted it out of ``level.count``.
        """
        m.live = False
        del self._orders[m.order_id]
        rem = m.remaining
        level.qty -= rem
        seq += 1
        ev = new_cancelled(seq, self.symbol, ts, m.order_id, m.client_id, "self_trade", rem, m.qty - rem)
        events.append(ev)
        return seq

    def _close_taker(
        self,
        cmd: PlaceOrder,
        key: int,
        is_buy: bool,
        is_gtc: bool,
        events: list[Event],
        seq: int,
        remaining: int,
        stopped: bool,
    ) -> tuple[tuple[_Entry, ...], int]:
        """The taker's unfilled ``remaining`` rests (GTC) or is cancelled; returns (own-side delta, seq).

        Cancelled when self-trade prevention ``stopped`` the taker, or as an IOC's remainder (a FOK
        that passed its check always fills completely).
        """
        oid = cmd.order_id
        cid = cmd.client_id
        qty = cmd.qty
        seq += 1
        if is_gtc and not stopped:
            side = cmd.side
            price = cmd.price
            own = self._rest(oid, cid, side, price, qty, remaining, key, is_buy)
            events.append(
                new_opened(seq, self.symbol, cmd.ts, oid, cid, side, price, qty, remaining, qty - remaining)
            )
            return own, seq
        reason: CancelReason
        if stopped:
            reason = "self_trade"
        else:
            assert cmd.tif == "IOC", "a FOK that passed its check must fill completely"
            reason = "ioc_remainder"
        events.append(new_cancelled(seq, self.symbol, cmd.ts, oid, cid, reason, remaining, qty - remaining))
        return (), seq

    def _rest(
        self, oid: str, cid: str, side: Side, price: int, qty: int, rem: int, key: int, is_buy: bool
    ) -> tuple[_Entry, ...]:
        """Rest a new order at the back of its level (created if new); returns the own-side delta."""
        ladder = self._bid_ladder if is_buy else self._ask_ladder
        depth = self.depth
        i = price - ladder.base  # the ladder lookup, inlined: this is the hottest path
        at = ladder.at
        level = at[i] if 0 <= i < len(at) else ladder.far.get(price)
        if level is not None:
            o = _Order(oid, cid, side, price, qty, rem)
            self._orders[oid] = o
            level.orders.append(o)
            level.qty += rem
            level.count += 1
            keys = self._bid_keys if is_buy else self._ask_keys
            n = len(keys)
            # An existing level is visible iff it is among the top ``depth`` keys.
            if n <= depth or key >= keys[n - depth]:
                return ((level.boxed, level.qty, level.count),)
            return ()
        level = _Level(price)
        o = _Order(oid, cid, side, price, qty, rem)
        self._orders[oid] = o
        level.orders.append(o)
        level.qty = rem
        level.count = 1
        ladder.put(price, level)
        if is_buy:
            keys = self._bid_keys
            lvls = self._bid_lvls
        else:
            keys = self._ask_keys
            lvls = self._ask_lvls
        n = len(keys)
        i = _native_bisect_left(keys, key) if _COMPILED else bisect_left(keys, key)
        keys.insert(i, key)
        lvls.insert(i, level)
        if n - i >= depth:
            return ()  # ``depth`` better levels exist: a new level below a full view is invisible
        if n >= depth:
            # It entered a full view: the level that was lowest in it drops out.
            return ((level.boxed, rem, 1), (lvls[n - depth].boxed, 0, 0))
        return ((level.boxed, rem, 1),)

    def _sweep_delta(
        self, left: list[_Entry], removed: int, partial: bool, is_bid: bool
    ) -> tuple[_Entry, ...]:
        """Delta of the side a taker swept: it removed the ``removed`` best levels (the visible ones
        are ``left``, best first, as ``(price, 0, 0)``) and, if ``partial``, changed the level that
        is now the best.

        Counting ranks from the top of the new book, with ``r = min(removed, depth)``: the removed
        levels that were visible left the view, ranks ``1..depth - r`` were visible before and still
        are, and ranks ``depth - r + 1..depth`` entered it.  Reported best first: the levels that
        left, then the partly consumed best level if it had been visible, then the entering ones
        -- exactly the levels whose visible state changed, in O(depth).
        """
        lvls = self._bid_lvls if is_bid else self._ask_lvls
        depth = self.depth
        n = len(lvls)
        kept = depth - len(left)  # ranks visible before and after
        assert len(left) == min(removed, depth), "left holds the removed levels that were visible"
        if partial and kept and n:
            lv = lvls[n - 1]
            left.append((lv.boxed, lv.qty, lv.count))
        j = kept + 1
        while j <= depth and j <= n:
            lv = lvls[n - j]
            left.append((lv.boxed, lv.qty, lv.count))
            j += 1
        return tuple(left)

    def _simulate(self, cmd: PlaceOrder, events: list[Event], seq: int, remaining: int) -> tuple[int, int]:
        """SimFill hook: fill part of ``remaining`` from simulated liquidity; returns (seq, remaining)."""
        return seq, remaining

    def _fillable(
        self,
        cmd: PlaceOrder,
        opp_keys: list[int],
        opp_lvls: list[_Level],
        lim: int,
        stp: StpMode,
        want: int,
    ) -> int:
        """Quantity a taker could fill right now, walking exactly as matching would (read-only)."""
        cid = cmd.client_id
        total = 0
        i = len(opp_keys) - 1
        while i >= 0 and opp_keys[i] >= lim:
            level = opp_lvls[i]
            orders = level.orders
            for j in range(level.head, len(orders)):
                m = orders[j]
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
        seq = self._seq + 1
        self._seq = seq
        if o is None:
            rej = new_cancel_rejected(seq, self.symbol, cmd.ts, oid, cmd.client_id, "not_open")
            return new_result((rej,), EMPTY_DELTA)
        if o.client_id != cmd.client_id:
            rej = new_cancel_rejected(seq, self.symbol, cmd.ts, oid, cmd.client_id, "not_owner")
            return new_result((rej,), EMPTY_DELTA)
        del self._orders[oid]
        o.live = False
        is_bid = o.side == "BUY"
        price = o.price
        ladder = self._bid_ladder if is_bid else self._ask_ladder
        level = ladder.get(price)
        assert level is not None, "a live order rests on a level"
        rem = o.remaining
        ev = new_cancelled(seq, self.symbol, cmd.ts, oid, o.client_id, "user", rem, o.qty - rem)
        count = level.count - 1
        level.count = count
        level.qty -= rem
        key = price if is_bid else -price
        keys = self._bid_keys if is_bid else self._ask_keys
        depth = self.depth
        if count:
            orders = level.orders
            if len(orders) - level.head > (count << 1) + _COMPACT_SLACK:
                level.orders = [x for x in orders[level.head :] if x.live]
                level.head = 0
            n = len(keys)
            if n > depth and key < keys[n - depth]:
                return new_result((ev,), EMPTY_DELTA)  # below the view: invisible
            d: tuple[_Entry, ...] = ((level.boxed, level.qty, count),)
        else:
            assert level.qty == 0, "empty level with quantity"
            ladder.drop(price)
            i = _native_bisect_left(keys, key) if _COMPILED else bisect_left(keys, key)
            assert keys[i] == key, "level key missing from the sorted keys"
            del keys[i]
            del (self._bid_lvls if is_bid else self._ask_lvls)[i]
            n = len(keys)
            if n - i >= depth:
                return new_result((ev,), EMPTY_DELTA)  # it was below the view: invisible
            if n >= depth:
                # It left a full view: the best level below the view enters it.
                lv = (self._bid_lvls if is_bid else self._ask_lvls)[n - depth]
                d = ((level.boxed, 0, 0), (lv.boxed, lv.qty, lv.count))
            else:
                d = ((level.boxed, 0, 0),)
        if is_bid:
            return new_result((ev,), new_delta(d, ()))  # type: ignore[arg-type]  # _Entry is Level
        return new_result((ev,), new_delta((), d))  # type: ignore[arg-type]

    # --------------------------------------------------------------------------------- L2 view

    def l2(self, depth: int | None = None) -> L2View:
        """Top ``depth`` levels (default: the engine's view depth), best first."""
        n = self.depth if depth is None else depth
        assert n >= 0, "depth must be >= 0"
        if n == 0:
            return L2View((), ())
        bids = tuple((lv.price, lv.qty, lv.count) for lv in reversed(self._bid_lvls[-n:]))
        asks = tuple((lv.price, lv.qty, lv.count) for lv in reversed(self._ask_lvls[-n:]))
        return L2View(bids, asks)

    def best_bid(self) -> int | None:
        return self._bid_keys[-1] if self._bid_keys else None

    def best_ask(self) -> int | None:
        return -self._ask_keys[-1] if self._ask_keys else None

    # ----------------------------------------------------------------------- state & recovery

    def open_orders(self) -> list[OpenOrder]:
        """Resting orders in priority order: bids best first then FIFO, then asks likewise."""
        out: list[OpenOrder] = []
        for lvls in (self._bid_lvls, self._ask_lvls):
            for level in reversed(lvls):
                orders = level.orders
                for j in range(level.head, len(orders)):
                    o = orders[j]
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

    def first_crossing(self, side: Side, price: int, client_id: str | None = None) -> str | None:
        """Read-only: the first live resting order, in priority order, that a taker of ``side``
        limited at ``price`` would meet (the first of ``client_id``'s when given); None if none.

        What a decision that writes no resting order rests on: a post-only refused because it
        would cross, a taker stopped (or a fill-or-kill refused) by self-trade prevention at its
        owner's order. The caller has the store confirm that order is still open at commit."""
        if side == "BUY":
            keys, levels, lim = self._ask_keys, self._ask_lvls, -price
        else:
            keys, levels, lim = self._bid_keys, self._bid_lvls, price
        i = len(keys) - 1
        while i >= 0 and keys[i] >= lim:  # bounded: each pass reads one level of the book
            level = levels[i]
            orders = level.orders
            for j in range(level.head, len(orders)):
                m = orders[j]
                if m.live and (client_id is None or m.client_id == client_id):
                    return m.order_id
            i -= 1
        return None

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
        self._bid_lvls = []
        self._ask_lvls = []
        self._bid_ladder = _Ladder()
        self._ask_ladder = _Ladder()
        self._orders = {}
        self._known = set()
        for r in orders:
            if r.side not in SIDES or r.price <= 0 or r.qty <= 0 or not 0 <= r.filled < r.qty:
                raise ValueError(f"invalid open order {r!r}")
            if r.order_id in self._orders:
                raise ValueError(f"duplicate open order {r.order_id!r}")
            is_buy = r.side == "BUY"
            key = r.price if is_buy else -r.price
            self._rest(r.order_id, r.client_id, r.side, r.price, r.qty, r.qty - r.filled, key, is_buy)
            self._known.add(r.order_id)
        bb = self.best_bid()
        ba = self.best_ask()
        if bb is not None and ba is not None and bb >= ba:
            raise ValueError(f"open orders form a crossed book: bid {bb} >= ask {ba}")

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

    def resting_count(self) -> int:
        """Number of resting (live) orders; O(levels)."""
        return sum(lv.count for lv in self._bid_lvls) + sum(lv.count for lv in self._ask_lvls)

    def check_invariants(self) -> None:
        """Full audit (O(book)); for tests.  Raises AssertionError on any violation."""
        live_total = 0
        for keys, lvls, ladder, sign in (
            (self._bid_keys, self._bid_lvls, self._bid_ladder, 1),
            (self._ask_keys, self._ask_lvls, self._ask_ladder, -1),
        ):
            assert keys == sorted(keys), "keys not sorted"
            held = ladder.levels()
            assert len(keys) == len(set(keys)) == len(held) == len(lvls), "keys and levels disagree"
            assert len(ladder.at) <= _LADDER_MAX, "ladder window too wide"
            for k, level in zip(keys, lvls, strict=True):
                assert ladder.get(level.price) is level, "level list and ladder disagree"
                assert level.price == sign * k, "level price does not match its key"
                assert 0 <= level.head <= len(level.orders), "level head out of range"
                assert not any(o.live for o in level.orders[: level.head]), "live order behind head"
                live = [o for o in level.orders[level.head :] if o.live]
                assert len(live) == level.count > 0, "level count wrong or empty level kept"
                assert sum(o.remaining for o in live) == level.qty, "level qty wrong"
                for o in live:
                    assert 0 < o.remaining <= o.qty, "resting remaining out of range"
                    assert o.price == level.price, "order on the wrong level"
                    assert self._orders.get(o.order_id) is o, "live order missing from the index"
                    assert o.order_id in self._known, "live order missing from the dedupe memory"
                live_total += level.count
        assert len(self._orders) == live_total, "index size differs from live orders"
        bb = self.best_bid()
        ba = self.best_ask()
        assert bb is None or ba is None or bb < ba, "book crossed"


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
