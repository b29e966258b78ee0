"""The platform's DynamoDB code: the leadership record, each region's health-monitor status, the
replication progress, and the shards' epoch records (tulip.schema's LeaderItem,
RegionStatusItem, ReplicationItem, EpochItem), as this region's replica holds them. Every read
is strongly consistent on the local table."""

from __future__ import annotations

import threading
import time

from pynamodb.exceptions import DoesNotExist, PutError

from tulip.epochs import Chain, EpochStart, canonical
from tulip.schema import EpochItem, LeaderItem, RegionStatusItem, ReplicationItem
from tulip.transient import aws_error_code

MAX_REPLICATION_ROWS = 1000  # source x target pairs: far past any region count we run
MAX_EPOCHS = 100_000  # takes of one shard: bounds the read
CHAIN_CACHE_S = 1.0


def leader() -> LeaderItem | None:
    try:
        return LeaderItem.get(LeaderItem.key(), LeaderItem.key(), consistent_read=True)
    except DoesNotExist:
        return None


def put_leader(record: LeaderItem, expected_term: int | None) -> bool:
    """Write the leadership record only if this replica still holds `expected_term` (None: only
    if there is none yet): two operators (or monitors) acting on the same view cannot both win
    here. False when the condition failed."""
    condition = (LeaderItem.pk.does_not_exist() if expected_term is None
                 else LeaderItem.term == expected_term)
    try:
        record.save(condition=condition)
    except PutError as exc:
        if aws_error_code(exc) == "ConditionalCheckFailedException":
            return False
        raise
    return True


def region_status(region: str) -> RegionStatusItem | None:
    try:
        key = RegionStatusItem.key(region)
        return RegionStatusItem.get(key, key, consistent_read=True)
    except DoesNotExist:
        return None


def put_region_status(status: RegionStatusItem) -> None:
    status.save()


def replication_into(region: str) -> list[ReplicationItem]:
    """The replicator's progress rows whose target is `region`."""
    rows = ReplicationItem.query(ReplicationItem.key(), consistent_read=True,
                                 limit=MAX_REPLICATION_ROWS)
    return [row for row in rows if row.target == region]


def epoch_starts(symbol: str) -> list[EpochStart]:
    records = EpochItem.query(EpochItem.key(symbol), consistent_read=True, limit=MAX_EPOCHS)
    return [EpochStart(r.epoch, r.parent, r.start_seq) for r in records]


_chains: dict[str, tuple[float, Chain]] = {}
_chains_lock = threading.Lock()


def chain(symbol: str) -> Chain:
    """The shard's canonical chain of epochs, cached for at most a second: market-data reads
    (events, trades, fills) serve only what is on it."""
    now = time.monotonic()
    with _chains_lock:
        cached = _chains.get(symbol)
    if cached is not None and now - cached[0] < CHAIN_CACHE_S:
        return cached[1]
    result = canonical(epoch_starts(symbol))
    with _chains_lock:
        _chains[symbol] = (now, result)
    return result
