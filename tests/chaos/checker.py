"""The chaos run's checker: the history of what clients were told (tests/chaos/history.py) against
the state of record in the stack's DynamoDB, after the pipeline has gone quiet.

Every check returns violations rather than stopping at the first, so one run reports all it found;
each violation names its kind:

* ``lost_ack``     an order acknowledged to a client (201, or 200 for an identical replay) is
                   missing from the Orders table, differs from what was acknowledged, or was never
                   matched (still ACCEPTED once everything is quiet);
* ``idempotency``  one (clientId, idempotencyKey) acknowledged as two orders, created twice (two
                   201s), refused with 409 although every attempt sent the same payload, stored as
                   two orders, or an order stored that no request asked for; every stored order has
                   its idempotency record naming it;
* ``answers``      a cancel answered 200 for an order that is not CANCELLED (unless a Reconciled
                   event names it: a deposed leader's acknowledgement), 404 ``not_open``
                   for one that is not FILLED, or any other 4xx (the orders are the caller's
                   own); a valid submit refused with a 4xx other than 409;
* ``double_fill``  an order's trade legs add up to more than its qty, or to something other than
                   its filledQty; a trade id twice; a trade leg naming an unknown order;
* ``seq_gap``      a symbol's stored events are not exactly seq 1..lastSeq, or the trades' seqs are
                   not the TradeExecuted events' seqs;
* ``ledger``       tests/support/ledger.py's ``assert_ledger`` (the same invariants, as the other
                   suites check them) failed for a symbol: its message;
* ``reference``    a replay of the committed command order through the naive reference book
                   (tests/property/reference.py) does not give exactly the stored events, or ends
                   with a book other than the stored open orders;
* ``convergence``  GET /book (what a client sees over REST) does not settle on the reference
                   book's top 5 levels at the shard's lastSeq;
* ``queues``       messages left in an events queue or dead-lettered once everything is quiet.

The committed command order is the symbol's event log cut back into commands (a place makes its
trades as taker, then at most one event of its own; a cancel makes exactly one event). One thing
the log does not say is when POST /cancel took an order off the book: order entry writes CANCELLED
at once, and the matcher hears of it later through the queue; a matcher that rebuilt its book from
DynamoDB in between (a kill, a refused commit) no longer has the order. The replay therefore keeps
an order its owner cancelled on the reference book until the log shows it gone: when a command's
stored outcome is the reference's only without some such orders, the smallest such set is
withdrawn at that point (counted as ``withdrawn``), and the late CancelRequested of each must then
find nothing (CancelRejected ``not_open``, counted with the other ``late_cancels``). Only orders
the Orders table holds as cancelled by their owner, crossing the command's order, can be
withdrawn; anything else that disagrees is a violation.

The reads go through anything with ``env`` and ``boto("dynamodb"|"sqs")`` (a
tests.support.stack.StackHandle, or the unit tests' in-memory stand-in), using the same readers
as tests/support/ledger.py.
"""

from __future__ import annotations

import itertools
import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from matching.engine import CancelOrder, Event, PlaceOrder, to_ticks
from orders.domain import idempotency_hash
from tests.chaos import history as hist
from tests.property.reference import ReferenceBook, RefOrder, crosses, priority
from tests.support import ledger
from tests.support.commands import command_groups, command_key
from tulip.epochs import Chain, EpochStart, canonical
from tulip.schema import ACCEPTED, CANCELLED, FILLED, OPEN_STATES

BOOK_DEPTH = 5
MAX_WITHDRAW_TRIALS = 5_000  # subsets of cancelled orders tried to explain one command
KINDS = ("lost_ack", "idempotency", "answers", "double_fill", "seq_gap", "ledger", "reference",
         "convergence", "queues", "fork", "compensation")
RECONCILED = "Reconciled"  # ops' compensation event (ops/storage.py, ops/services.py)


class Readable(Protocol):
    """What the checker reads through: a StackHandle, or a stand-in with the same two members."""

    @property
    def env(self) -> dict[str, str]: ...

    def boto(self, service: str) -> Any: ...


@dataclass(frozen=True)
class Violation:
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.kind}] {self.detail}"


@dataclass
class Report:
    violations: list[Violation] = field(default_factory=list)
    orders_acked: int = 0  # distinct orders acknowledged to a client
    orders_stored: int = 0
    trades: int = 0
    cancels_acked: int = 0
    withdrawn: int = 0  # user cancels the replay applied before the matcher heard of them
    late_cancels: int = 0  # CancelRequested that found the order already gone (rebuilt book)
    commands: int = 0  # commands replayed
    # Across regions: epochs off the canonical chain (a deposed leader's tail) and what they hold,
    # the Reconciled events on the chain and the orders they compensated.
    forks: int = 0
    off_chain_events: int = 0
    off_chain_trades: int = 0
    reconciled_events: int = 0
    compensated_orders: int = 0  # stored CANCELLED with cancelReason "reconciled"
    compensated_acked: int = 0  # of the orders a Reconciled event names, acknowledged ones
    takes: dict[str, int] = field(default_factory=dict)  # shard takes (epoch records) by symbol
    settled_off_chain: int = 0  # orders a deposed fork closed that left the reference book
    left_in_former_leader: int = 0  # messages in a queue of a region that no longer leads

    def add(self, kind: str, detail: str) -> None:
        assert kind in KINDS, kind
        self.violations.append(Violation(kind, detail))

    def by_kind(self) -> Counter[str]:
        return Counter(v.kind for v in self.violations)

    def summary(self, limit: int = 20) -> str:
        lines = [f"{len(self.violations)} violation(s): "
                 + (", ".join(f"{k}={n}" for k, n in sorted(self.by_kind().items())) or "none")]
        lines += [f"  {v}" for v in self.violations[:limit]]
        if len(self.violations) > limit:
            lines.append(f"  ... and {len(self.violations) - limit} more")
        return "\n".join(lines)


# ------------------------------------------------------------------------------------ the ledger
def _s(item: dict[str, Any] | None, name: str) -> str | None:
    value = (item or {}).get(name)
    return None if value is None else str(value.get("S"))


def _n(item: dict[str, Any] | None, name: str, default: int = 0) -> int:
    value = (item or {}).get(name)
    return default if value is None else int(value["N"])


def _epoch(item: dict[str, Any]) -> int:
    return _n(item, "epoch")


@dataclass
class Ledger:
    """The state of record as one read of the tables (tests/support/ledger.py's readers).

    Across regions a shard's history may fork (tulip/epochs.py): a deposed leader's epoch
    committed a tail past the point where the new leader's epoch continued it. `events` and
    `trades` are then the canonical chain's only (what the market data serves), `off_chain_*`
    the rest (kept as history, and acceptable only where a Reconciled event compensated them).
    With one region every epoch continues the one before and nothing is off the chain."""

    orders: dict[str, dict[str, Any]]
    trades: list[dict[str, Any]]
    idempotency: dict[str, dict[str, Any]]  # IK hash -> its IDEMP# record
    events: dict[str, list[dict[str, Any]]]
    last_seq: dict[str, int]
    unreadable: dict[str, str]  # symbol -> why its event pages could not be read
    chains: dict[str, Chain] = field(default_factory=dict)
    off_chain_events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    off_chain_trades: list[dict[str, Any]] = field(default_factory=list)
    # What the canonical Reconciled events name: order ids (`orderIds` and `cancels`), trade ids.
    compensated_orders: set[str] = field(default_factory=set)
    compensated_trades: set[str] = field(default_factory=set)
    takes: dict[str, int] = field(default_factory=dict)  # epoch records by symbol
    # Orders a deposed fork decided: named by an off-chain event, or compensated.
    forked_orders: set[str] = field(default_factory=set)

    @classmethod
    def read(cls, handle: Readable, symbols: Iterable[str]) -> Ledger:
        events: dict[str, list[dict[str, Any]]] = {}
        unreadable: dict[str, str] = {}
        last_seq = {}
        chains = {}
        takes = {}
        for symbol in symbols:
            last_seq[symbol] = ledger.shard_last_seq(handle, symbol)  # type: ignore[arg-type]
            starts = epoch_starts(handle, symbol)
            chains[symbol] = canonical(starts)
            takes[symbol] = len(starts)
            try:
                events[symbol] = ledger.events(handle, symbol)  # type: ignore[arg-type]
            except AssertionError as exc:  # a page whose seqs are not the ones its keys name
                events[symbol] = []
                unreadable[symbol] = str(exc)
        records = ledger._scan(handle, handle.env["ORDERS_TABLE"], "IDEMP#")  # type: ignore[arg-type]
        state = cls.split(ledger.orders(handle), ledger.trades(handle),  # type: ignore[arg-type]
                          {str(_s(r, "pk")).removeprefix("IDEMP#"): r for r in records},
                          events, last_seq, unreadable, chains)
        state.takes = takes
        return state

    @classmethod
    def split(cls, orders: dict[str, dict[str, Any]], trades: list[dict[str, Any]],
              idempotency: dict[str, dict[str, Any]], events: dict[str, list[dict[str, Any]]],
              last_seq: dict[str, int], unreadable: dict[str, str],
              chains: dict[str, Chain]) -> Ledger:
        """Every event and trade, parted into the canonical chain's and the rest."""
        on: dict[str, list[dict[str, Any]]] = {}
        off: dict[str, list[dict[str, Any]]] = {}
        for symbol, found in events.items():
            chain = chains.get(symbol) or canonical([])
            on[symbol] = sorted((e for e in found if chain.covers(e.get("epoch"), int(e["seq"]))),
                                key=lambda e: int(e["seq"]))
            off[symbol] = [e for e in found if not chain.covers(e.get("epoch"), int(e["seq"]))]
        canonical_trades, off_trades = [], []
        for trade in trades:
            chain = chains.get(str(_s(trade, "symbol"))) or canonical([])
            covered = chain.covers(_epoch(trade), _n(trade, "seq"))
            (canonical_trades if covered else off_trades).append(trade)
        state = cls(orders, canonical_trades, idempotency, on, last_seq, unreadable, chains,
                    off, off_trades)
        for found in on.values():
            for event in found:
                if event["type"] == RECONCILED:
                    payload = event["payload"]
                    state.compensated_orders.update(
                        str(o) for o in [*payload.get("orderIds", []), *payload.get("cancels", [])])
                    state.compensated_trades.update(str(t) for t in payload.get("tradeIds", []))
        state.forked_orders = {order_id for found in off.values() for event in found
                               for order_id in _named(event)} | state.compensated_orders
        return state

    def forked(self, symbol: str) -> bool:
        return bool(self.off_chain_events.get(symbol)) or any(
            _s(t, "symbol") == symbol for t in self.off_chain_trades)


def epoch_starts(handle: Readable, symbol: str) -> list[EpochStart]:
    """The shard's EPOCHS# records (tulip.schema.EpochItem): where each epoch started, and the
    epoch it continued."""
    items = ledger._all_pages(handle.boto("dynamodb").query, TableName=handle.env["TRADES_TABLE"],
                              ConsistentRead=True, KeyConditionExpression="pk = :p",
                              ExpressionAttributeValues={":p": {"S": f"EPOCHS#{symbol}"}})
    return [EpochStart(_n(i, "epoch"), _n(i, "parent"), _n(i, "startSeq")) for i in items]


# ------------------------------------------------------------------ the tables, kept for later
DUMP_FILE = "tables.json"


def dump(handle: Readable, path: Path) -> Path:
    """Every item of the Orders and Trades tables, with the names the checker reads, as JSON: a
    run's state of record outlives its stack, and `Offline(path)` checks it again."""
    ddb = handle.boto("dynamodb")
    tables = {}
    for variable in ("ORDERS_TABLE", "TRADES_TABLE"):
        name = handle.env[variable]
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": name, "ConsistentRead": True}
        while True:
            page = ddb.scan(**kwargs)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        tables[name] = items
    env = {k: handle.env[k] for k in ("ORDERS_TABLE", "TRADES_TABLE", "EVENTS_FIFO_URL")}
    path.write_text(json.dumps({"env": env, "tables": tables}), encoding="utf-8")
    return path


class Offline:
    """A handle over tables held in memory (a dump, or a unit test's doctored ledger): the scan,
    query and get_item calls tests/support/ledger.py makes, answered as DynamoDB would; its
    queues are empty."""

    def __init__(self, env: dict[str, str], tables: dict[str, list[dict[str, Any]]]) -> None:
        self._env = env
        self.tables = tables

    @classmethod
    def load(cls, path: Path) -> Offline:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(data["env"], data["tables"])

    @property
    def env(self) -> dict[str, str]:
        return self._env

    def boto(self, service: str) -> Any:
        return self if service == "dynamodb" else _EmptyQueues()

    def scan(self, **kwargs: Any) -> dict[str, Any]:
        items = self.tables.get(kwargs["TableName"], [])
        if "FilterExpression" in kwargs:
            assert kwargs["FilterExpression"] == "begins_with(pk, :p)", kwargs
            prefix = kwargs["ExpressionAttributeValues"][":p"]["S"]
            items = [i for i in items if i["pk"]["S"].startswith(prefix)]
        return {"Items": list(items)}

    def query(self, **kwargs: Any) -> dict[str, Any]:
        assert kwargs["KeyConditionExpression"] == "pk = :p" and "IndexName" not in kwargs, kwargs
        pk = kwargs["ExpressionAttributeValues"][":p"]["S"]
        items = [i for i in self.tables.get(kwargs["TableName"], []) if i["pk"]["S"] == pk]
        return {"Items": sorted(items, key=lambda i: i["sk"]["S"])}

    def get_item(self, **kwargs: Any) -> dict[str, Any]:
        key = kwargs["Key"]
        for item in self.tables.get(kwargs["TableName"], []):
            if item["pk"] == key["pk"] and item["sk"] == key["sk"]:
                return {"Item": item}
        return {}


class _EmptyQueues:
    def get_queue_attributes(self, **kwargs: Any) -> dict[str, Any]:
        return {"Attributes": {}}


# ------------------------------------------------------------------------------------ the checks
class QuietReads:
    """The handle's reads, each table scanned once: the stack is quiet, so the readers of
    tests/support/ledger.py (which scan a whole table per call, filtering by key prefix) and this
    checker share one read of each table instead of one per symbol and per check."""

    def __init__(self, handle: Readable) -> None:
        self.handle = handle
        self.ddb = _QuietDynamoDB(handle.boto("dynamodb"))

    @property
    def env(self) -> dict[str, str]:
        return self.handle.env

    def boto(self, service: str) -> Any:
        return self.ddb if service == "dynamodb" else self.handle.boto(service)


class _QuietDynamoDB:
    def __init__(self, client: Any) -> None:
        self.client = client
        self.tables: dict[str, list[dict[str, Any]]] = {}

    def _table(self, name: str) -> list[dict[str, Any]]:
        if name not in self.tables:
            items: list[dict[str, Any]] = []
            kwargs: dict[str, Any] = {"TableName": name, "ConsistentRead": True}
            while True:
                page = self.client.scan(**kwargs)
                items.extend(page["Items"])
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
            self.tables[name] = items
        return self.tables[name]

    def scan(self, **kwargs: Any) -> dict[str, Any]:
        if kwargs.get("FilterExpression") != "begins_with(pk, :p)" or "ExclusiveStartKey" in kwargs:
            return dict(self.client.scan(**kwargs))
        prefix = kwargs["ExpressionAttributeValues"][":p"]["S"]
        return {"Items": [i for i in self._table(kwargs["TableName"])
                          if i["pk"]["S"].startswith(prefix)]}

    def query(self, **kwargs: Any) -> Any:
        return self.client.query(**kwargs)

    def get_item(self, **kwargs: Any) -> Any:
        return self.client.get_item(**kwargs)


def check(records: list[dict[str, Any]], handle: Readable, symbols: list[str],
          fetch_book: Callable[[str], dict[str, Any]] | None = None,
          converge_timeout_s: float = 0.0, *, regions: dict[str, Readable] | None = None,
          books: dict[str, Callable[[str], dict[str, Any]]] | None = None,
          state_hashes: dict[str, str] | None = None) -> Report:
    """Every check over one quiet stack; `fetch_book(symbol)` is GET /book's JSON (None: the
    convergence check is skipped), polled up to `converge_timeout_s` until it settles.

    With several regions `handle` is the leader region's replica (the state of record), and
    `regions` every region (their queues are checked too), `books` every region's GET /book
    (each must settle on the reference book), `state_hashes` every region's `manage.py
    state_hash` after the heal (all equal: the replicas converged)."""
    report = Report()
    handle = QuietReads(handle)
    state = Ledger.read(handle, symbols)
    report.orders_stored = len(state.orders)
    report.trades = len(state.trades)
    report.takes = {symbol: state.takes.get(symbol, 0) for symbol in symbols}
    check_forks(records, state, report)
    check_compensations(state, report)
    check_acks(records, state, report)
    check_idempotency(records, state, report)
    check_cancels(records, state, report)
    check_fills(state, report)
    fetchers = books or ({"": fetch_book} if fetch_book is not None else {})
    for symbol in symbols:
        check_seq(state, symbol, report)
        if not state.forked(symbol):  # its checks assume one line of history; check_* cover forks
            try:
                ledger.assert_ledger(handle, symbol)  # type: ignore[arg-type]
            except AssertionError as exc:
                report.add("ledger", f"{symbol}: {str(exc).splitlines()[0] if str(exc) else exc!r}")
        replay = ReferenceReplay(symbol, state)
        replay.run(report)
        for region, fetch in fetchers.items():
            if replay.book is not None:
                check_convergence(symbol, replay.book, state.last_seq[symbol], fetch,
                                  converge_timeout_s, report, region)
    for region_handle in (regions or {"": handle}).values():
        check_queues(region_handle, symbols, report,
                     region_handle.env.get("AWS_REGION") != handle.env.get("AWS_REGION"))
    if state_hashes is not None and len(set(state_hashes.values())) != 1:
        report.add("convergence", f"the regions' state hashes differ after the heal: {state_hashes}")
    return report


def check_forks(records: list[dict[str, Any]], state: Ledger, report: Report) -> None:
    """What a deposed leader committed off the canonical chain is kept as history and must be
    compensated: every off-chain trade named by a Reconciled event on the chain (its orders were
    told of fills the canonical history does not have). Counts the figures."""
    report.forks = len({(symbol, e.get("epoch")) for symbol, found in state.off_chain_events.items()
                        for e in found})
    report.off_chain_events = sum(len(found) for found in state.off_chain_events.values())
    report.off_chain_trades = len(state.off_chain_trades)
    report.reconciled_events = sum(1 for found in state.events.values() for e in found
                                   if e["type"] == RECONCILED)
    report.compensated_orders = sum(1 for o in state.orders.values()
                                    if _s(o, "cancelReason") == "reconciled")
    acked = {str(a.body.get("orderId")) for s in hist.submits(records).values() for a in s.acks}
    report.compensated_acked = len(acked & state.compensated_orders)
    for trade in state.off_chain_trades:
        trade_id = str(_s(trade, "tradeId"))
        if trade_id not in state.compensated_trades:
            report.add("fork", f"trade {trade_id} (epoch {_epoch(trade)}, seq {_n(trade, 'seq')}) "
                               f"is off the canonical chain and no Reconciled event compensates it")


def check_compensations(state: Ledger, report: Report) -> None:
    """A compensating cancel must answer a real inconsistency. For a `filled_qty_mismatch` the
    quiet ledger still shows it (compensation cancels, it never changes filledQty): an order it
    cancelled whose canonical trades equal its filledQty, with no off-chain trade, was a live
    order cancelled for a mismatch that was only in reconciliation's own reads."""
    filled: dict[str, int] = defaultdict(int)
    for trade in state.trades:
        for leg in ("buyOrderId", "sellOrderId"):
            filled[str(_s(trade, leg))] += _n(trade, "qty")
    off = {str(_s(t, leg)) for t in state.off_chain_trades for leg in ("buyOrderId", "sellOrderId")}
    for found in state.events.values():
        for event in found:
            payload = event["payload"]
            if event["type"] != RECONCILED or payload.get("kind") != "filled_qty_mismatch":
                continue
            for order_id in map(str, payload.get("cancels", [])):
                order = state.orders.get(order_id)
                if order is not None and order_id not in off \
                        and filled[order_id] == _n(order, "filledQty"):
                    report.add("compensation", f"order {order_id} cancelled by reconciliation at "
                                               f"seq {event['seq']} for {payload.get('findingKey')}"
                                               f", but its canonical trades {filled[order_id]} "
                                               f"equal its filledQty")


def _named(event: dict[str, Any]) -> list[str]:
    """The orders a market event names (its place or cancel command, a trade's legs); none for
    a Reconciled event (what it compensates is read apart)."""
    payload = event["payload"]
    if event["type"] == RECONCILED:
        return []
    if event["type"] == "TradeExecuted":
        return [str(payload.get(k)) for k in ("makerOrderId", "takerOrderId")]
    return [str(payload["orderId"])] if "orderId" in payload else []


def _named_on_chain(state: Ledger) -> set[str]:
    """Every order some canonical event names."""
    return {order_id for found in state.events.values() for event in found
            for order_id in _named(event)}


def _order_matches(stored: dict[str, Any], client: str, key: str, body: dict[str, Any]) -> str:
    """What differs between the stored order and the acknowledged request ('' if nothing)."""
    wanted = {"clientId": client, "symbol": body["symbol"], "side": body["side"],
              "qty": int(body["qty"]), "priceTicks": to_ticks(str(body["price"])),
              "timeInForce": body.get("timeInForce", "GTC"),
              "idempotencyKey": idempotency_hash(client, key)}
    found = {"clientId": _s(stored, "clientId"), "symbol": _s(stored, "symbol"),
             "side": _s(stored, "side"), "qty": _n(stored, "qty"),
             "priceTicks": _n(stored, "priceTicks"), "timeInForce": _s(stored, "timeInForce"),
             "idempotencyKey": _s(stored, "idempotencyKey")}
    return ", ".join(f"{k} {found[k]!r} != {v!r}" for k, v in wanted.items() if found[k] != v)


def check_acks(records: list[dict[str, Any]], state: Ledger, report: Report) -> None:
    acked: set[str] = set()
    on_chain = _named_on_chain(state)
    for submit in hist.submits(records).values():
        for order_id in {str(a.body.get("orderId")) for a in submit.acks}:
            acked.add(order_id)
            stored = state.orders.get(order_id)
            if stored is None:
                report.add("lost_ack", f"order {order_id} acknowledged to {submit.client_id} "
                                       f"(key {submit.key}) is not in the Orders table")
                continue
            differs = _order_matches(stored, submit.client_id, submit.key, submit.order)
            if differs:
                report.add("lost_ack", f"order {order_id} is stored otherwise than it was "
                                       f"acknowledged: {differs}")
            if _s(stored, "status") == ACCEPTED:
                report.add("lost_ack", f"order {order_id} acknowledged but never matched "
                                       "(still ACCEPTED with the pipeline quiet)")
            elif (order_id not in on_chain and order_id not in state.compensated_orders
                  and _s(stored, "cancelReason") != "user"):
                # Its owner's cancel may decide it before the matcher ever names it; otherwise
                # an order the canonical history never mentions was decided only on a deposed
                # fork, and only a Reconciled compensation makes that acceptable.
                report.add("lost_ack", f"order {order_id} acknowledged, stored as "
                                       f"{_s(stored, 'status')} (epoch {_epoch(stored)}), but "
                                       "neither on the canonical chain nor compensated")
    report.orders_acked = len(acked)


def check_idempotency(records: list[dict[str, Any]], state: Ledger, report: Report) -> None:
    # Across a fork, two regions may each have taken one key (a retry re-pinned to the other
    # region before replication); reconciliation compensates the duplicate (a Reconciled event
    # naming it), which is the only way a second order for one key is acceptable.
    kept = state.compensated_orders
    submits = hist.submits(records)
    for (client, key), submit in submits.items():
        named = sorted({str(a.body.get("orderId")) for a in submit.acks} - kept)
        if len(named) > 1:
            report.add("idempotency", f"key {key} of {client} acknowledged as {len(named)} "
                                      f"orders: {named}")
        created = [a for a in submit.attempts if a.status == 201
                   and str(a.body.get("orderId")) not in kept]
        if len(created) > 1:
            report.add("idempotency", f"key {key} of {client} answered 201 (created) "
                                      f"{len(created)} times")
        if any(a.status == 409 for a in submit.attempts):
            report.add("idempotency", f"key {key} of {client} answered 409 although every "
                                      "attempt sent the same order")
        refused = sorted({a.status for a in submit.attempts
                          if a.status is not None and 400 <= a.status < 500 and a.status != 409})
        if refused:
            report.add("answers", f"the valid order of key {key} of {client} was refused with "
                                  f"{refused}")
    asked = {idempotency_hash(client, key): (client, key) for client, key in submits}
    by_key: dict[tuple[str, str], list[str]] = defaultdict(list)
    for order_id, order in state.orders.items():
        ik = str(_s(order, "idempotencyKey"))
        by_key[(str(_s(order, "clientId")), ik)].append(order_id)
        if submits and ik not in asked:
            report.add("idempotency", f"order {order_id} is stored but no request of the run "
                                      "asked for it")
        record = state.idempotency.get(ik)
        if (record is None or _s(record, "orderId") != order_id) and order_id not in kept:
            what = "is missing" if record is None else f"names {_s(record, 'orderId')}"
            report.add("idempotency", f"order {order_id}: its idempotency record {what}")
    for (client, ik), order_ids in by_key.items():
        if len([o for o in order_ids if o not in kept]) > 1:
            report.add("idempotency", f"{len(order_ids)} orders stored for one idempotency key "
                                      f"of {client} ({ik[:12]}...): {sorted(order_ids)}")


def check_cancels(records: list[dict[str, Any]], state: Ledger, report: Report) -> None:
    acked = 0
    for attempt in hist.cancels(records):
        order_id = str(attempt.request["body"]["orderId"])
        status = _s(state.orders.get(order_id), "status")
        if attempt.status == 200:
            acked += 1
            if status != CANCELLED and order_id not in state.compensated_orders:
                # A deposed leader's acknowledged cancel that the new leader's history overtook
                # (it filled the order) is acceptable only where a Reconciled event names it.
                report.add("answers", f"cancel of {order_id} answered 200 but the order is {status}")
        elif attempt.status == 404 and attempt.body.get("error", {}).get("code") == "not_open":
            if status != FILLED:
                report.add("answers", f"cancel of {order_id} answered not_open but the order "
                                      f"is {status}")
        elif (attempt.status == 404 and attempt.body.get("error", {}).get("code") == "not_found"
              and order_id in state.forked_orders):
            # The order lived on a deposed leader's fork (acknowledged there in its last seconds,
            # compensated after the heal): the new leader's replica never held it.
            continue
        elif attempt.status is not None and 400 <= attempt.status < 500:
            report.add("answers", f"cancel of the caller's own order {order_id} answered "
                                  f"{attempt.status} {attempt.body.get('error', {}).get('code')}")
    report.cancels_acked = acked


def check_fills(state: Ledger, report: Report) -> None:
    """Zero double fills over the canonical chain, whichever epochs its trades were made in; an
    order's filledQty equals its canonical trades unless a Reconciled event compensated it (a
    fork's fill, or last-writer-wins between regions, left it otherwise). Across a fork: the
    canonical fills plus any uncompensated off-chain fill of an order must not exceed its qty."""
    filled: dict[str, int] = defaultdict(int)
    off_filled: dict[str, int] = defaultdict(int)
    seen: set[str] = set()
    for trade in [*state.trades, *state.off_chain_trades]:
        trade_id = str(_s(trade, "tradeId"))
        if trade_id in seen:
            report.add("double_fill", f"trade {trade_id} stored twice")
        seen.add(trade_id)
    for trades, into in ((state.trades, filled), (state.off_chain_trades, off_filled)):
        for trade in trades:
            trade_id = str(_s(trade, "tradeId"))
            if into is off_filled and trade_id in state.compensated_trades:
                continue
            for leg in ("buyOrderId", "sellOrderId"):
                order_id = str(_s(trade, leg))
                into[order_id] += _n(trade, "qty")
                if order_id not in state.orders:
                    report.add("double_fill", f"trade {trade_id} fills unknown order {order_id}")
    for order_id, order in state.orders.items():
        qty, filled_qty = _n(order, "qty"), _n(order, "filledQty")
        if filled[order_id] > qty:
            report.add("double_fill", f"order {order_id}: trade legs {filled[order_id]} > qty {qty}")
        elif filled[order_id] + off_filled[order_id] > qty:
            report.add("double_fill", f"order {order_id}: canonical trade legs {filled[order_id]}"
                                      f" + uncompensated off-chain legs {off_filled[order_id]} "
                                      f"> qty {qty}")
        if filled_qty > qty:
            report.add("double_fill", f"order {order_id}: filledQty {filled_qty} > qty {qty}")
        if filled[order_id] != filled_qty and order_id not in state.compensated_orders:
            report.add("double_fill", f"order {order_id}: trade legs {filled[order_id]} != "
                                      f"filledQty {filled_qty}")


def check_seq(state: Ledger, symbol: str, report: Report) -> None:
    """The canonical chain's events are exactly seq 1..lastSeq; each epoch's own events (on the
    chain or not) are gap-free; every trade is its epoch's TradeExecuted at its seq."""
    if symbol in state.unreadable:
        report.add("seq_gap", f"{symbol}: {state.unreadable[symbol]}")
        return
    seqs = [int(e["seq"]) for e in state.events[symbol]]
    last = state.last_seq[symbol]
    if seqs != list(range(1, last + 1)):
        missing = sorted(set(range(1, last + 1)) - set(seqs))
        extra = sorted(s for s, n in Counter(seqs).items() if n > 1 or s > last or s < 1)
        report.add("seq_gap", f"{symbol}: events are not seq 1..{last}: missing {missing[:10]}, "
                              f"repeated or beyond {extra[:10]}")
    by_epoch: dict[int, list[int]] = defaultdict(list)
    every = [*state.events[symbol], *state.off_chain_events.get(symbol, [])]
    for event in every:
        by_epoch[int(event.get("epoch") or 0)].append(int(event["seq"]))
    for epoch, found in sorted(by_epoch.items()):
        found.sort()
        if found != list(range(found[0], found[0] + len(found))):
            report.add("seq_gap", f"{symbol}: epoch {epoch}'s events are not gap-free: "
                                  f"{found[0]}..{found[-1]} with {len(found)} events")
    traded = {(int(e.get("epoch") or 0), int(e["seq"])) for e in every
              if e["type"] == "TradeExecuted"}
    stored = {(_epoch(t), _n(t, "seq")) for t in [*state.trades, *state.off_chain_trades]
              if _s(t, "symbol") == symbol}
    if traded != stored:
        report.add("seq_gap", f"{symbol}: trades at (epoch, seq) {sorted(stored - traded)[:10]} "
                              f"have no event; events {sorted(traded - stored)[:10]} have no trade")


def check_queues(handle: Readable, symbols: list[str], report: Report,
                 former_leader: bool = False) -> None:
    """Nothing dead-lettered, and the leader's events queues empty. A region that no longer
    leads keeps what its queues held when it stopped (its matchers consume them, as already
    applied, only if it leads again): counted (`left_in_former_leader`), not a violation; an
    order such a message was for must still be decided, which the other checks see."""
    sqs = handle.boto("sqs")
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    urls = [handle.env["EVENTS_FIFO_URL"].replace("{symbol}", s) for s in symbols]
    if handle.env.get("EVENTS_DLQ_URL"):
        urls.append(handle.env["EVENTS_DLQ_URL"])
    for url in urls:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        left = sum(int(attributes.get(name, "0")) for name in names)
        if left and former_leader and url != handle.env.get("EVENTS_DLQ_URL"):
            report.left_in_former_leader += left
        elif left:
            where = f" ({handle.env.get('AWS_REGION')})" if handle.env.get("AWS_REGION") else ""
            report.add("queues", f"{left} message(s) left in {url.rsplit('/', 1)[-1]}{where}")


# ------------------------------------------------------------------------- the reference replay
_FIELDS = {
    "TradeExecuted": ("price", "qty", "takerSide", "makerOrderId", "makerRemaining",
                      "makerFilled", "takerOrderId", "takerRemaining", "takerFilled"),
    "OrderOpened": ("orderId", "side", "price", "qty", "remaining", "filled"),
    "OrderCancelled": ("orderId", "reason", "remaining", "filled"),
    "OrderRejected": ("orderId", "reason"),
    "CancelRejected": ("orderId", "reason"),
}
_ATTRS = {"takerSide": "taker_side", "makerOrderId": "maker_order_id",
          "makerRemaining": "maker_remaining", "makerFilled": "maker_filled",
          "takerOrderId": "taker_order_id", "takerRemaining": "taker_remaining",
          "takerFilled": "taker_filled", "orderId": "order_id"}

Shape = tuple[Any, ...]


def stored_shape(event: dict[str, Any]) -> Shape:
    payload = event["payload"]
    kind = event["type"]
    if kind not in _FIELDS:
        return (int(event["seq"]), kind)
    values = [to_ticks(str(payload.get(f))) if f == "price" else payload.get(f)
              for f in _FIELDS[kind]]
    return (int(event["seq"]), kind, *values)


def reference_shape(event: Event) -> Shape:
    kind = type(event).__name__
    return (event.seq, kind, *(getattr(event, _ATTRS.get(f, f)) for f in _FIELDS[kind]))


class ReferenceReplay:
    """One symbol's committed commands through the reference book (see the module docstring)."""

    def __init__(self, symbol: str, state: Ledger) -> None:
        self.symbol = symbol
        self.state = state
        self.book: ReferenceBook | None = ReferenceBook(symbol)
        # Orders their owner cancelled through POST /cancel: the only ones that may leave the
        # reference book without an event of their own.
        self.user_cancelled = {oid for oid, o in state.orders.items()
                               if _s(o, "status") == CANCELLED and _s(o, "cancelReason") == "user"}
        # Across a fork, also the orders a Reconciled event compensated: the new leader's book
        # was rebuilt from a replica where a deposed leader's tail had already changed them.
        if state.forked(symbol):
            self.user_cancelled |= state.forked_orders
        self.withdrawn: dict[str, RefOrder] = {}

    def run(self, report: Report) -> None:
        assert self.book is not None
        if self.symbol in self.state.unreadable:
            self.book = None
            return
        for group in self._commands():
            report.commands += 1
            problem = self._reconciled(group[0]) if group[0]["type"] == RECONCILED \
                else self._command(group, report)
            if problem:
                report.add("reference", f"{self.symbol}: {problem}")
                self.book = None  # nothing after a disagreement can be compared
                return
        self._final_book(report)

    def _commands(self) -> Iterator[list[dict[str, Any]]]:
        """The canonical events cut back into commands; a Reconciled event is one of its own."""
        run: list[dict[str, Any]] = []
        for event in self.state.events[self.symbol]:
            if event["type"] == RECONCILED:
                yield from command_groups(run)
                run = []
                yield [event]
            else:
                run.append(event)
        yield from command_groups(run)

    def _reconciled(self, event: dict[str, Any]) -> str | None:
        """Ops' compensation: its cancels take their orders off the book (those the matcher's
        book still held: a compensated order may already be gone, see _command)."""
        assert self.book is not None
        seq = int(event["seq"])
        if seq != self.book.seq + 1:
            return f"Reconciled at seq {seq} follows seq {self.book.seq}"
        cancels = {str(o) for o in event["payload"].get("cancels", [])}
        self.book.orders = [o for o in self.book.orders if o.order_id not in cancels]
        self.book.seq = seq
        return None

    # One command: the stored events must be exactly the reference's.
    def _command(self, group: list[dict[str, Any]], report: Report) -> str | None:
        assert self.book is not None
        book = self.book
        expected = [stored_shape(e) for e in group]
        kind, order_id = command_key(group[0])
        if kind == "cancel":
            return self._cancel(order_id, str(group[0]["payload"].get("clientId")), expected,
                                report)
        stored = self.state.orders.get(order_id)
        if stored is None:
            return f"events at seq {group[0]['seq']} for order {order_id}, unknown to the Orders table"
        command = PlaceOrder(order_id, str(_s(stored, "clientId")),
                             "BUY" if _s(stored, "side") == "BUY" else "SELL",
                             _n(stored, "priceTicks"), _n(stored, "qty"), 0,
                             _s(stored, "timeInForce") or "GTC",  # type: ignore[arg-type]
                             bool(stored.get("postOnly", {}).get("BOOL")), None)
        saved = _save(book)
        produced = [reference_shape(e) for e in book.place(command)]
        if produced == expected:
            return None
        # The smallest set of orders their owner had cancelled (that cross this one) whose absence
        # gives exactly the stored outcome: the matcher's book no longer held them.
        candidates = sorted((o for o in saved[0] if o.order_id in self.user_cancelled
                             and o.order_id not in self.withdrawn and crosses(o, command)),
                            key=priority)
        trials = 0
        for size in range(1, len(candidates) + 1):
            for subset in itertools.combinations(candidates, size):
                trials += 1
                if trials > MAX_WITHDRAW_TRIALS:
                    break
                _restore(book, saved, order_id)
                book.orders = [o for o in book.orders if o not in subset]
                if [reference_shape(e) for e in book.place(command)] == expected:
                    for order in subset:
                        self.withdrawn[order.order_id] = order
                    report.withdrawn += len(subset)
                    return None
        _restore(book, saved, order_id)
        return (f"the reference book disagrees at seq {group[0]['seq']}: stored {expected}, "
                f"reference {produced}; {self._explain(command)}")

    def _explain(self, command: PlaceOrder) -> str:
        """The reference's crossing orders, best first, with their state of record."""
        assert self.book is not None
        crossing = sorted((o for o in self.book.orders if crosses(o, command)),
                          key=lambda o: (o.price if o.side == "SELL" else -o.price, o.arrival))
        rows = []
        for o in crossing[:6]:
            stored = self.state.orders.get(o.order_id)
            rows.append(f"{o.order_id} ({'own' if o.client_id == command.client_id else 'other'}"
                        f" {o.side} {o.price} left {o.remaining}; stored "
                        f"{_s(stored, 'status')}/{_s(stored, 'cancelReason')} filled "
                        f"{_n(stored, 'filledQty')} openSort {_s(stored, 'openSort')})")
        return f"taker {command.order_id} {command.side} {command.price}x{command.qty} " \
               f"{command.tif}; reference crossing orders: " + "; ".join(rows)

    def _cancel(self, order_id: str, client_id: str, expected: list[Shape],
                report: Report) -> str | None:
        assert self.book is not None
        book = self.book
        seq = expected[0][0]
        late = [(seq, "CancelRejected", order_id, "not_open")]
        if order_id in self.withdrawn:
            # Withdrawn because a command's stored outcome needed its absence: the matcher's
            # book had lost it (rebuilt from DynamoDB), so its cancel can only find nothing.
            self.withdrawn.pop(order_id)
            book.seq = seq
            report.late_cancels += 1
            return None if expected == late else (
                f"cancel of {order_id} at seq {seq}: stored {expected}, but an earlier command "
                "was decided without that order on the book")
        resting = next((o for o in book.orders if o.order_id == order_id), None)
        if expected == late and resting is not None and order_id in self.user_cancelled:
            # The matcher rebuilt its book after POST /cancel had taken the order off it.
            book.orders = [o for o in book.orders if o is not resting]
            report.late_cancels += 1
        produced = [reference_shape(e) for e in book.cancel(CancelOrder(order_id, client_id, 0))]
        if produced != expected:
            return f"the reference book disagrees at seq {seq}: stored {expected}, reference {produced}"
        return None

    def _final_book(self, report: Report) -> None:
        """The stored open orders, in the book's priority order, are the reference's."""
        assert self.book is not None
        last = self.state.last_seq[self.symbol]
        if self.book.seq != last:
            report.add("reference", f"{self.symbol}: the replay ends at seq {self.book.seq}, "
                                    f"the shard at lastSeq {last}")
        if self.state.forked(self.symbol):
            # An order a deposed fork decided (its cancel or fill consumed there, or compensated
            # by a Reconciled event) can leave the new leader's book without a canonical event:
            # the book is rebuilt from a replica where it is closed. Only such orders, closed in
            # the Orders table, leave the reference book here.
            settled = {o.order_id for o in self.book.orders
                       if o.order_id in self.state.forked_orders
                       and _s(self.state.orders.get(o.order_id), "status") not in OPEN_STATES}
            self.book.orders = [o for o in self.book.orders if o.order_id not in settled]
            report.settled_off_chain += len(settled)
        reference = [(o.order_id, o.side, o.price, o.qty, o.filled) for o in self.book.open_orders()]
        resting = [o for o in self.state.orders.values()
                   if _s(o, "symbol") == self.symbol and _s(o, "status") in OPEN_STATES
                   and _s(o, "status") != ACCEPTED]
        resting.sort(key=lambda o: (_s(o, "side") != "BUY",
                                    -_n(o, "priceTicks") if _s(o, "side") == "BUY"
                                    else _n(o, "priceTicks"), str(_s(o, "openSort"))))
        stored = [(str(_s(o, "orderId")), _s(o, "side"), _n(o, "priceTicks"), _n(o, "qty"),
                   _n(o, "filledQty")) for o in resting]
        if stored != reference:
            only_stored = sorted(set(stored) - set(reference))[:5]
            only_reference = sorted(set(reference) - set(stored))[:5]
            states = {o[0]: f"{_s(self.state.orders.get(o[0]), 'status')}/"
                            f"{_s(self.state.orders.get(o[0]), 'cancelReason')}"
                      for o in only_reference}
            report.add("reference", f"{self.symbol}: stored open orders differ from the "
                                    f"reference book ({len(stored)} vs {len(reference)}; only "
                                    f"stored {only_stored}, only reference {only_reference}"
                                    + (f", stored as {states}: no canonical event took them off"
                                       if states else "") + ")")


_Saved = tuple[list[RefOrder], list[int], int, int]


def _save(book: ReferenceBook) -> _Saved:
    return list(book.orders), [o.remaining for o in book.orders], book.seq, book.arrivals


def _restore(book: ReferenceBook, saved: _Saved, order_id: str) -> None:
    """Undo one place of `order_id` (cheaper than deep-copying a large book per command)."""
    orders, remaining, seq, arrivals = saved
    for order, left in zip(orders, remaining, strict=True):
        order.remaining = left
    book.orders = list(orders)
    book.seq, book.arrivals = seq, arrivals
    book.known.discard(order_id)


# --------------------------------------------------------------------------------- convergence
def reference_levels(book: ReferenceBook, depth: int = BOOK_DEPTH) -> dict[str, list[tuple[int, int, int]]]:
    view = book.l2(depth)
    return {"bids": list(view.bids), "asks": list(view.asks)}


def rest_levels(snapshot: dict[str, Any], depth: int = BOOK_DEPTH) -> dict[str, list[tuple[int, int, int]]]:
    return {side: [(to_ticks(str(level["price"])), int(level["qty"]), int(level["orders"]))
                   for level in snapshot.get(side, [])[:depth]] for side in ("bids", "asks")}


def check_convergence(symbol: str, book: ReferenceBook, last_seq: int,
                      fetch_book: Callable[[str], dict[str, Any]], timeout_s: float,
                      report: Report, region: str = "") -> None:
    wanted = reference_levels(book)
    deadline = time.monotonic() + timeout_s
    while True:
        snapshot = fetch_book(symbol)
        seen = rest_levels(snapshot)
        if seen == wanted and int(snapshot.get("seq", -1)) == last_seq:
            return
        if time.monotonic() >= deadline:
            where = f" in {region}" if region else ""
            report.add("convergence", f"{symbol}: GET /book{where} shows seq {snapshot.get('seq')} "
                                      f"{seen}; the reference book at lastSeq {last_seq} is {wanted}")
            return
        time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    """`python -m tests.chaos.checker RUN_DIR`: check a finished run again, from its history and
    its tables' dump (no stack: the convergence and queue checks are the live run's)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tests.chaos.checker")
    parser.add_argument("directory", type=Path)
    args = parser.parse_args(argv)
    records = hist.load(args.directory / hist.FILE_NAME)
    plan = next(r for r in records if r["kind"] == "event" and r["what"] == "plan")
    report = check(records, Offline.load(args.directory / DUMP_FILE), list(plan["symbols"]))
    print(report.summary(limit=50))
    return 1 if report.violations else 0


if __name__ == "__main__":
    raise SystemExit(main())
