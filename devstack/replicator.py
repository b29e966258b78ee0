"""Simulated DynamoDB Global Tables (multi-region, eventually consistent) for the local stack.

One process tails every table's stream in every region and applies each item change to every
other region, item by item (as AWS does: a transaction's items are not replicated as a unit),
last writer wins. `python -m devstack.replicator`, started by the launcher when it runs more than
one region (docs/architecture.md, "Regions").

The model is state-based, which is what makes it converge whatever the order things arrive in:
- From each region's stream, the latest LOCAL change of every item (its image, or a tombstone),
  stamped with the change's time; a change this process wrote itself (an echo) only updates what
  the region is known to hold.
- For each region, the winner of every item among the change it holds now (its own write or one
  applied to it) and the latest changes of the regions it can reach (all of them unless a
  partition drill cuts a pair, tulip/drills.py); when the region does not hold the winner, the
  winner is written there. What a region holds always takes part: a partition must never roll a
  replica back to an older change of its own (a filled order to ACCEPTED, a newer leadership
  record to the one it replaced), as Global Tables never do.
- Last writer wins on (term, time, region): time is the change's creation time in its region's
  stream (ms); the term ranks first for the two records that carry a leadership term, the shard
  items (their epoch, tulip.schema.epoch_term) and the leadership record: a write made under a
  newer leadership always wins, so a deposed region's later wall-clock write cannot bring an old
  epoch back after a heal. Global Tables themselves order by time only; docs/architecture.md
  says how the deployed system gets the same guarantee.
- A write into a region never replaces a change of that region its stream has not shown yet
  (`_held_condition`, `Replicator._put_termed`): Global Tables never apply an older change over
  a newer one.
The replication lag of every pair is written into the target region (tulip.schema's
ReplicationItem, read by GET /region and the admin) and exported as the ReplicationLatency metric.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError
from prometheus_client import Gauge

from tulip import aws, drills
from tulip.config import Config, load_config
from tulip.schema import TERM_EPOCHS, LeaderItem, ReplicationItem, ShardItem, epoch_term

log = logging.getLogger("devstack.replicator")

POLL_S = 0.1
STATUS_EVERY_S = 1.0
MAX_RECORDS_PER_READ = 1000
MAX_SHARDS = 1000
# Shards are looked for every this many cycles, not in each: DescribeTable and DescribeStream
# for every table of every region, ten times a second, were half of an idle two-region stack's
# moto CPU (a third of a core). A stream's shard set changes rarely (DynamoDB rolls shards over
# every few hours); a shard closed in between is still read to its end through its iterator.
DISCOVER_EVERY_CYCLES = 10
MAX_PENDING_ECHOES = 256  # per item: far more writes than one item gets between two polls
NOT_REPLICATED = (ReplicationItem.PREFIX,)  # written into each target by this process itself

REPLICATION_LATENCY = Gauge(
    "tulipbroker_replication_latency_seconds",
    "Simulated Global Tables: how old the newest change applied from source to target was",
    ["source", "target"], multiprocess_mode="max")

Key = tuple[str, str, str]  # (table, pk, sk)
BATCH_WRITE_ITEMS = 25  # DynamoDB's BatchWriteItem limit
MAX_BATCH_ATTEMPTS = 10  # unprocessed items sent again; bounded (TigerStyle)
Stamp = tuple[int, float, str]  # (term, time, origin region)


@dataclass
class Change:
    stamp: Stamp
    image: dict[str, Any] | None  # None: the item was removed


@dataclass
class Region:
    name: str
    ddb: Any
    streams: Any
    iterators: dict[tuple[str, str], str | None] = field(default_factory=dict)  # (arn, shard)
    latest: dict[Key, Change] = field(default_factory=dict)  # its own latest local change
    held: dict[Key, Change] = field(default_factory=dict)  # the change its table holds now
    holds: dict[Key, str | None] = field(default_factory=dict)  # the image it holds (json)
    # What this process wrote there and has not seen come back on the stream yet, oldest first,
    # with the change each carried. Several writes of one item can be in flight at once;
    # remembering only the last would take the echo of an earlier one for a local change,
    # stamped newer than everything, and spread it back over the newer state. A stream keeps one
    # item's changes in order.
    echoes: dict[Key, deque[tuple[str | None, Change]]] = field(default_factory=dict)


def _term(pk: str, image: dict[str, Any] | None) -> int:
    if image is None:
        return 0
    if pk == LeaderItem.key():
        return int(image.get("term", {}).get("N", "0"))
    if pk.startswith(ShardItem.PREFIX):
        return epoch_term(int(image.get("epoch", {}).get("N", "0")))
    return 0


def _term_condition(pk: str, term: int) -> dict[str, Any]:
    """put_item arguments that keep a termed record from going back to an older term."""
    if pk == LeaderItem.key():
        return {"ConditionExpression": "attribute_not_exists(#t) OR #t <= :t",
                "ExpressionAttributeNames": {"#t": "term"},
                "ExpressionAttributeValues": {":t": {"N": str(term)}}}
    if pk.startswith(ShardItem.PREFIX):
        # epoch_term(epoch) <= term, written without a division: epoch < (term + 1) * TERM_EPOCHS
        return {"ConditionExpression": "attribute_not_exists(#e) OR #e < :bound",
                "ExpressionAttributeNames": {"#e": "epoch"},
                "ExpressionAttributeValues": {":bound": {"N": str((term + 1) * TERM_EPOCHS)}}}
    return {}


Applied = tuple[Key, Change, str | None]  # a key, its winner, the winner's encoded image
Guarded = tuple[Applied, dict[str, Any]]  # a write and its condition (`_held_condition`)
# The attribute every write of a mutable item sets (orders: accept, match, cancel, compensation,
# the sweeper's claim).
UPDATED_AT = "updatedAt"


def _held_condition(target: Region, key: Key) -> dict[str, Any]:
    """put_item arguments that refuse a replicated write when the target no longer holds what
    this process last knew it held: a local write its stream has not shown yet.

    Unconditioned, the winner among the KNOWN changes replaced that newer write until the next
    cycle read it and wrote it back (the region chaos run at size, seed 2205: an order's fill by
    the new leader rolled back to a deposed leader's older fill of it, and to its ACCEPTED
    version, for a moment; the new leader's matcher, rebuilding its book in that moment, left
    out an order the canonical history holds, and filled another on top of its ACCEPTED
    version). Global Tables never apply a change older than the one an item holds. For an item
    this process knows the target holds, it is recognised by its `updatedAt`; for one it knows
    the target removed, by its absence. An item it has never seen there, or one without
    `updatedAt` (trades, event pages: written once), is written as before."""
    held = target.held.get(key)
    if held is None:
        return {}
    if held.image is None:
        return {"ConditionExpression": "attribute_not_exists(pk)"}
    stamp = held.image.get(UPDATED_AT)
    if stamp is None:
        return {}
    return {"ConditionExpression": "#u = :u", "ExpressionAttributeNames": {"#u": UPDATED_AT},
            "ExpressionAttributeValues": {":u": stamp}}


def _encoded(image: dict[str, Any] | None) -> str | None:
    return None if image is None else json.dumps(image, sort_keys=True)


class Replicator:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.tables = (cfg.orders_table, cfg.trades_table)
        self.regions = {name: Region(name, aws.client("dynamodb", cfg, region=name),
                                     aws.client("dynamodbstreams", cfg, region=name))
                        for name in cfg.regions}
        self.dirty: set[Key] = set()
        self.lag_ms: dict[tuple[str, str], int] = {}
        self.paused_since: dict[tuple[str, str], float] = {}  # a partition holds the pair back
        self.reachable = self._reachability()
        self.stopping = False
        self.cycles = 0  # counted, not timed: the seeded simulation replays a cycle exactly

    # ------------------------------------------------------------------ reading
    def _shard_iterators(self, region: Region) -> None:
        for table in self.tables:
            arn = region.ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
            shards = region.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
            for shard in shards[:MAX_SHARDS]:
                if (arn, shard["ShardId"]) not in region.iterators:
                    region.iterators[(arn, shard["ShardId"])] = region.streams.get_shard_iterator(
                        StreamArn=arn, ShardId=shard["ShardId"],
                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]

    def read(self, region: Region) -> int:
        """Take in the region's new stream records; returns how many."""
        if not region.iterators or self.cycles % DISCOVER_EVERY_CYCLES == 0:
            self._shard_iterators(region)
        count = 0
        for (arn, shard), iterator in list(region.iterators.items()):
            if iterator is None:
                continue
            page = region.streams.get_records(ShardIterator=iterator, Limit=MAX_RECORDS_PER_READ)
            region.iterators[(arn, shard)] = page.get("NextShardIterator")
            table = arn.split(":table/")[1].split("/")[0]
            for record in page.get("Records", []):
                self._take_in(region, table, record)
                count += 1
        return count

    def _take_in(self, region: Region, table: str, record: dict[str, Any]) -> None:
        data = record["dynamodb"]
        pk, sk = data["Keys"]["pk"]["S"], data["Keys"]["sk"]["S"]
        if pk.startswith(NOT_REPLICATED):
            return
        key = (table, pk, sk)
        image = None if record["eventName"] == "REMOVE" else data.get("NewImage")
        encoded = _encoded(image)
        region.holds[key] = encoded
        pending = region.echoes.get(key)
        if pending and any(echo == encoded for echo, _ in pending):
            # Our own write coming back: nothing new happened there, and the table holds that
            # write's change again, even where a local change read just before it (written
            # before ours, shown after) had replaced it here; otherwise the next guarded write
            # of the item would expect that local change's updatedAt and be refused for good
            # (`_held_condition`). Older pending echoes of the same item were overtaken by it.
            while True:
                echo, change = pending.popleft()
                if echo == encoded:
                    break
            region.held[key] = change
            if not pending:
                del region.echoes[key]
            return
        created = data["ApproximateCreationDateTime"]
        moment = created.timestamp() if hasattr(created, "timestamp") else float(created)
        change = Change((_term(pk, image), moment, region.name), image)
        region.latest[key] = change
        region.held[key] = change  # a local write replaced whatever the table held
        self.dirty.add(key)

    # ------------------------------------------------------------------ applying
    def _reachability(self) -> dict[str, frozenset[str]]:
        return {target: frozenset(source for source in self.regions
                                  if source == target
                                  or not drills.partitioned(self.cfg, source, target))
                for target in self.regions}

    def converge(self, keys: Iterable[Key]) -> int:
        """Write, in every region, the winner of each key among what that region can reach."""
        applied = 0
        batches: dict[str, list[Applied]] = {name: [] for name in self.regions}
        guarded: dict[str, list[Guarded]] = {name: [] for name in self.regions}
        for key in keys:
            for target in self.regions.values():
                changes = [self.regions[s].latest[key] for s in self.reachable[target.name]
                           if key in self.regions[s].latest]
                if key in target.held:
                    changes.append(target.held[key])
                if not changes:
                    continue
                winner = max(changes, key=lambda c: c.stamp)
                encoded = _encoded(winner.image)
                if target.holds.get(key, None) == encoded:
                    continue
                condition = _term_condition(key[1], winner.stamp[0])
                if winner.image is not None and condition:
                    # A termed record, alone and conditioned: the target holds a newer term's
                    # write not yet read from its stream? Then that one wins there.
                    if self._put_termed(target, key, winner, condition):
                        applied += self._applied(target, [(key, winner, encoded)])
                    continue
                guard = _held_condition(target, key) if winner.image is not None else {}
                if guard:
                    pending = guarded[target.name]
                    pending.append(((key, winner, encoded), guard))
                    if len(pending) == BATCH_WRITE_ITEMS:
                        applied += self._write_guarded(target, pending)
                        pending.clear()
                    continue
                batch = batches[target.name]
                batch.append((key, winner, encoded))
                if len(batch) == BATCH_WRITE_ITEMS:
                    applied += self._write_batch(target, batch)
                    batch.clear()
        for name, batch in batches.items():
            if batch:
                applied += self._write_batch(self.regions[name], batch)
        for name, pending in guarded.items():
            if pending:
                applied += self._write_guarded(self.regions[name], pending)
        return applied

    def _applied(self, target: Region, writes: list[Applied]) -> int:
        """Remember what the target holds now (and the echoes its stream will show)."""
        now = time.time()
        for key, winner, encoded in writes:
            target.echoes.setdefault(key, deque(maxlen=MAX_PENDING_ECHOES)).append(
                (encoded, winner))
            target.holds[key] = encoded
            target.held[key] = winner
            pair = (winner.stamp[2], target.name)
            self.lag_ms[pair] = max(0, int((now - winner.stamp[1]) * 1000))
        return len(writes)

    def _write_batch(self, target: Region, writes: list[Applied]) -> int:
        """Up to 25 winners in one BatchWriteItem (one call where one PutItem each kept the
        replicator near 200 items/s on this machine, below a loaded stack's commits: the region
        chaos run's replicas fell a minute behind). Unprocessed items are sent again."""
        assert 0 < len(writes) <= BATCH_WRITE_ITEMS
        requests: dict[str, list[dict[str, Any]]] = {}
        for (table, pk, sk), winner, _ in writes:
            if winner.image is None:
                request = {"DeleteRequest": {"Key": {"pk": {"S": pk}, "sk": {"S": sk}}}}
            else:
                request = {"PutRequest": {"Item": winner.image}}
            requests.setdefault(table, []).append(request)
        for _ in range(MAX_BATCH_ATTEMPTS):
            requests = target.ddb.batch_write_item(RequestItems=requests).get(
                "UnprocessedItems") or {}
            if not requests:
                return self._applied(target, writes)
        raise RuntimeError(f"{target.name}: items left unprocessed after {MAX_BATCH_ATTEMPTS} "
                           "attempts")  # the cycle is retried whole (run)

    def _write_guarded(self, target: Region, writes: list[Guarded]) -> int:
        """Up to 25 winners each conditioned on the target still holding what this process last
        knew of it (`_held_condition`), in one transaction; if any condition fails, one by one,
        leaving out those the target has changed since (its stream brings the change next)."""
        assert 0 < len(writes) <= BATCH_WRITE_ITEMS
        puts = [{"TableName": key[0], "Item": winner.image, **guard}
                for (key, winner, _), guard in writes]
        try:
            target.ddb.transact_write_items(TransactItems=[{"Put": put} for put in puts])
            return self._applied(target, [write for write, _ in writes])
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "TransactionCanceledException":
                raise
        kept = [write for (write, _), put in zip(writes, puts, strict=True)
                if self._put_if(target, put)]
        return self._applied(target, kept) if kept else 0

    @staticmethod
    def _put_if(target: Region, put: dict[str, Any]) -> bool:
        try:
            target.ddb.put_item(**put)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False
        return True

    @staticmethod
    def _put_termed(target: Region, key: Key, winner: Change, condition: dict[str, Any]) -> bool:
        """Apply a shard item or the leadership record; False when the target's is newer.

        What the replicator believes a region holds is what it last read from that region's
        stream, which runs behind the table: a local write made since (a take under a newer term)
        is there but not yet known. An unconditional put of the winner among the KNOWN changes
        then rolled that write back until the stream brought it in (the region chaos run at size:
        a new leader's shard item replaced by the deposed leader's epoch for 30 s, its matchers'
        commits fenced, their retakes refused). Global Tables never apply a change older than the
        one an item holds; for the termed records, whose order is the term, the put is
        conditioned on it. Other items: `_held_condition`."""
        return Replicator._put_if(target, {"TableName": key[0], "Item": winner.image, **condition})

    # ------------------------------------------------------------------ the loop
    def cycle(self) -> int:
        self.cycles += 1
        reachable = self._reachability()
        healed = reachable != self.reachable
        self.reachable = reachable
        for region in self.regions.values():
            self.read(region)
        keys = set(self.dirty)
        if healed:  # a partition started or ended: every item may have a new winner somewhere
            keys |= {k for r in self.regions.values() for k in r.latest}
        self.dirty.clear()
        # Sorted: a set of strings iterates in an order that depends on the interpreter's hash
        # seed, and the seeded simulation (tests/sim) must replay a cycle exactly.
        return self.converge(sorted(keys))

    def report(self) -> None:
        """The lag of every pair, in its target region (and as a metric)."""
        stamp = int(time.time() * 1000)
        for source in self.regions:
            for target in self.regions.values():
                if source == target.name:
                    continue
                paused = source not in self.reachable[target.name]
                if paused:
                    # Nothing crosses: the target falls behind by the partition's age.
                    since = self.paused_since.setdefault((source, target.name), time.time())
                    lag = int((time.time() - since) * 1000)
                else:
                    self.paused_since.pop((source, target.name), None)
                    lag = self.lag_ms.get((source, target.name), 0)
                REPLICATION_LATENCY.labels(source, target.name).set(lag / 1000)
                target.ddb.put_item(TableName=self.cfg.trades_table, Item={
                    "pk": {"S": ReplicationItem.key()}, "sk": {"S": f"{source}>{target.name}"},
                    "source": {"S": source}, "target": {"S": target.name},
                    "lagMs": {"N": str(lag)}, "appliedAt": {"N": str(stamp)},
                    "paused": {"BOOL": paused}})

    def run(self) -> None:
        last_report = 0.0
        while not self.stopping:
            try:
                if self.cycle() == 0:
                    # Caught up: what is in flight now is no older than this poll.
                    for pair in self.lag_ms:
                        self.lag_ms[pair] = 0
                if time.monotonic() - last_report >= STATUS_EVERY_S:
                    self.report()
                    last_report = time.monotonic()
            except Exception:  # a region's moto backend hiccup: retry the whole cycle
                log.exception("replication cycle failed; retrying")
            time.sleep(POLL_S)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    replicator = Replicator(load_config(os.environ))

    def stop(*_: object) -> None:
        replicator.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("replicating", extra={"regions": list(replicator.regions)})
    replicator.run()


if __name__ == "__main__":
    main()
