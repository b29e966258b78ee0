"""(b) The pure-Python ceiling: a bare dict + deque + bisect book, no events, no extras.

Price-time priority, trade at the resting price, partial fills, IOC, O(1) lazy cancel by id (the
cancelled entry stays in its deque as a tombstone, a per-level live count drops empty levels) --
the minimum needed to process the benchmark streams and produce the fill totals.  Written to be as
fast as plain CPython allows, so "x (b)" is an honest ratio.
"""

from __future__ import annotations

import time
from bisect import bisect_left, insort
from collections import deque

Msg = tuple[int, int, bool, int, int, bool]


def run(stream: list[Msg], lat: list[int] | None = None) -> tuple[int, int, int]:
    bids: dict[int, deque[list[int]]] = {}  # price -> FIFO of [oid, remaining, price, is_buy]
    asks: dict[int, deque[list[int]]] = {}
    bid_n: dict[int, int] = {}  # price -> live orders
    ask_n: dict[int, int] = {}
    bid_keys: list[int] = []  # ascending, best (highest) last
    ask_keys: list[int] = []  # negated prices ascending, best (lowest) last
    orders: dict[int, list[int]] = {}
    volume = 0
    checksum = 0
    cancels = 0
    clock = time.perf_counter_ns
    t0 = 0
    for i, (op, oid, is_buy, price, qty, ioc) in enumerate(stream):
        if lat is not None:
            t0 = clock()
        if op == 1:
            o = orders.pop(oid, None)
            if o is not None:
                cancels += 1
                o[1] = 0  # tombstone; matching skips it
                p = o[2]
                if o[3]:
                    n = bid_n[p] - 1
                    if n:
                        bid_n[p] = n
                    else:
                        del bid_n[p], bids[p], bid_keys[bisect_left(bid_keys, p)]
                else:
                    n = ask_n[p] - 1
                    if n:
                        ask_n[p] = n
                    else:
                        del ask_n[p], asks[p], ask_keys[bisect_left(ask_keys, -p)]
        elif is_buy:
            rem = qty
            while rem and ask_keys and -ask_keys[-1] <= price:
                lp = -ask_keys[-1]
                q = asks[lp]
                n = ask_n[lp]
                while True:
                    m = q[0]
                    mrem = m[1]
                    if not mrem:
                        q.popleft()
                        continue
                    if mrem <= rem:
                        fill = mrem
                        q.popleft()
                        m[1] = 0
                        del orders[m[0]]
                        n -= 1
                    else:
                        fill = rem
                        m[1] = mrem - rem
                    rem -= fill
                    volume += fill
                    checksum += (i + 1) * fill * lp
                    if not rem or not n:
                        break
                if n:
                    ask_n[lp] = n
                else:
                    del asks[lp], ask_n[lp]
                    ask_keys.pop()
            if rem:
                if ioc:
                    cancels += 1
                else:
                    o = [oid, rem, price, 1]
                    if price in bid_n:
                        bids[price].append(o)
                        bid_n[price] += 1
                    else:
                        bids[price] = deque((o,))
                        bid_n[price] = 1
                        insort(bid_keys, price)
                    orders[oid] = o
        else:
            rem = qty
            while rem and bid_keys and bid_keys[-1] >= price:
                lp = bid_keys[-1]
                q = bids[lp]
                n = bid_n[lp]
                while True:
                    m = q[0]
                    mrem = m[1]
                    if not mrem:
                        q.popleft()
                        continue
                    if mrem <= rem:
                        fill = mrem
                        q.popleft()
                        m[1] = 0
                        del orders[m[0]]
                        n -= 1
                    else:
                        fill = rem
                        m[1] = mrem - rem
                    rem -= fill
                    volume += fill
                    checksum += (i + 1) * fill * lp
                    if not rem or not n:
                        break
                if n:
                    bid_n[lp] = n
                else:
                    del bids[lp], bid_n[lp]
                    bid_keys.pop()
            if rem:
                if ioc:
                    cancels += 1
                else:
                    o = [oid, rem, price, 0]
                    if price in ask_n:
                        asks[price].append(o)
                        ask_n[price] += 1
                    else:
                        asks[price] = deque((o,))
                        ask_n[price] = 1
                        insort(ask_keys, -price)
                    orders[oid] = o
        if lat is not None:
            lat.append(clock() - t0)
    return volume, checksum, cancels
