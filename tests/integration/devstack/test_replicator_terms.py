"""The local stack's Global Tables (devstack/replicator.py) never take a termed record back to an
older term, nor an order back to an older write, even when the region wrote the newer one after
the replicator last read its stream.

The race, as the region chaos run at size met it: the replicator has read the deposed leader's
shard write (term 4) and not yet the new leader's take (term 5) made in the other region a
moment ago; what it believes that region holds is older than both, so it applies the term-4
write there. Unconditioned, that put replaced the take: the new leader's matcher lost the shard
to an epoch of the old term and every retake collided with its own epoch record.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from devstack import provision
from devstack.replicator import Replicator
from tulip import aws
from tulip.config import load_config
from tulip.schema import TERM_EPOCHS, LeaderItem, ShardItem, raw_key

from .support import MotoServer

EAST, WEST = "us-east-1", "us-west-2"


@pytest.fixture
def replicator(servers: dict[str, MotoServer]) -> Replicator:
    suffix = uuid.uuid4().hex[:8]
    cfg = load_config({
        "TULIP_ENV": "test", "AWS_ENDPOINT_URL": servers["patched"].url, "AWS_REGION": EAST,
        "TULIP_REGIONS": f"{EAST},{WEST}", "ORDERS_TABLE": f"orders-{suffix}",
        "TRADES_TABLE": f"trades-{suffix}"})
    names = provision.Names(orders_table=cfg.orders_table, trades_table=cfg.trades_table)
    for region in (EAST, WEST):
        provision.create_tables(aws.client("dynamodb", cfg, region=region), names)
    return Replicator(cfg)


def _shard(epoch: int, last_seq: int) -> dict[str, Any]:
    return {**raw_key(ShardItem.key("ROSE")), "epoch": {"N": str(epoch)},
            "lastSeq": {"N": str(last_seq)}}


def _leader(region: str, term: int) -> dict[str, Any]:
    return {**raw_key(LeaderItem.key()), "leaderRegion": {"S": region}, "term": {"N": str(term)}}


def _get(replicator: Replicator, region: str, item: dict[str, Any]) -> dict[str, Any]:
    ddb = replicator.regions[region].ddb
    key = {"pk": item["pk"], "sk": item["sk"]}
    found: dict[str, Any] = ddb.get_item(TableName=replicator.cfg.trades_table, Key=key,
                                         ConsistentRead=True)["Item"]
    return found


@pytest.mark.parametrize("older, newer, field", [
    (_shard(4 * TERM_EPOCHS + 9, 416), _shard(5 * TERM_EPOCHS + 1, 416), "epoch"),
    (_leader(WEST, 4), _leader(EAST, 5), "term"),
])
def test_a_write_the_stream_has_not_shown_yet_is_not_rolled_back(
        replicator: Replicator, older: dict[str, Any], newer: dict[str, Any], field: str) -> None:
    table = replicator.cfg.trades_table
    east, west = replicator.regions[EAST], replicator.regions[WEST]
    # Both regions hold the same term-4 record to begin with.
    west.ddb.put_item(TableName=table, Item=older)
    replicator.cycle()
    assert _get(replicator, EAST, older)[field] == older[field]
    # West writes the record again under term 4 (its last commit before it learns it is deposed);
    # the replicator reads west's stream, and then, before it reads east's, east takes the
    # record under term 5.
    west.ddb.put_item(TableName=table, Item={**older, "note": {"S": "west's last write"}})
    replicator.read(west)
    east.ddb.put_item(TableName=table, Item=newer)
    replicator.converge(sorted(replicator.dirty))
    assert _get(replicator, EAST, older)[field] == newer[field], "east rolled back to term 4"
    # The next cycle reads east's take and spreads it: both regions converge on term 5.
    replicator.dirty.clear()
    replicator.cycle()
    for region in (EAST, WEST):
        assert _get(replicator, region, older)[field] == newer[field], region


def _order(filled: int, updated_at: str) -> dict[str, Any]:
    return {"pk": {"S": "ORDER#o-1"}, "sk": {"S": "ORDER#o-1"}, "filledQty": {"N": str(filled)},
            "updatedAt": {"S": updated_at}}


def _get_order(replicator: Replicator, region: str) -> dict[str, Any]:
    found: dict[str, Any] = replicator.regions[region].ddb.get_item(
        TableName=replicator.cfg.orders_table, Key={"pk": {"S": "ORDER#o-1"},
                                                    "sk": {"S": "ORDER#o-1"}},
        ConsistentRead=True)["Item"]
    return found


def test_an_order_write_the_stream_has_not_shown_yet_is_not_rolled_back(
        replicator: Replicator) -> None:
    """The same race for an order (seed 2205 at size): the deposed leader's last fill of it is
    read first, the new leader's later fill not yet; unconditioned, the older fill replaced the
    newer one in the new leader's own region until the next cycle, and a rebuild in between
    built its book from it."""
    table = replicator.cfg.orders_table
    east, west = replicator.regions[EAST], replicator.regions[WEST]
    west.ddb.put_item(TableName=table, Item=_order(0, "2026-12-07T16:38:29.971Z"))
    replicator.cycle()
    assert _get_order(replicator, EAST)["filledQty"] == {"N": "0"}
    west.ddb.put_item(TableName=table, Item=_order(4, "2026-12-07T16:38:40.000Z"))  # off-chain
    replicator.read(west)
    east.ddb.put_item(TableName=table, Item=_order(2, "2026-12-07T16:38:49.000Z"))  # canonical
    replicator.converge(sorted(replicator.dirty))
    assert _get_order(replicator, EAST)["filledQty"] == {"N": "2"}, "east rolled back"
    replicator.dirty.clear()
    replicator.cycle()
    for region in (EAST, WEST):  # the newer write everywhere, last writer wins
        assert _get_order(replicator, region)["filledQty"] == {"N": "2"}, region


def _accepted(status: str, updated_at: str, **extra: dict[str, Any]) -> dict[str, Any]:
    return {"pk": {"S": "ORDER#o-1"}, "sk": {"S": "ORDER#o-1"}, "orderId": {"S": "o-1"},
            "status": {"S": status}, "updatedAt": {"S": updated_at}, **extra}


def _converged(replicator: Replicator) -> None:
    replicator.dirty.clear()
    for _ in range(3):
        replicator.cycle()
    assert _get_order(replicator, EAST) == _get_order(replicator, WEST), "the regions differ"


def test_a_local_write_replaced_unseen_still_converges(replicator: Replicator) -> None:
    """Region chaos seed 2208: east's sweeper claimed an order (a write that then left updatedAt
    as it was) while the replicator, not having read that write, applied west's older cancel of
    it over the claim. East's stream then showed the claim, then the replicator's own write; the
    replicator took the table to hold the claim still, expected its updatedAt at every later
    write there, and was refused for good: east kept the cancel, west got the claim, and the
    regions' state hashes never met. The echo of its own write now says what the table holds."""
    table = replicator.cfg.orders_table
    east, west = replicator.regions[EAST], replicator.regions[WEST]
    west.ddb.put_item(TableName=table, Item=_accepted("ACCEPTED", "2026-12-07T21:40:00.000Z"))
    replicator.cycle()
    west.ddb.put_item(TableName=table, Item=_accepted("CANCELLED", "2026-12-07T21:40:01.000Z"))
    replicator.read(west)
    east.ddb.put_item(TableName=table, Item=_accepted(
        "ACCEPTED", "2026-12-07T21:40:00.000Z", sweptAt={"S": "2026-12-07T21:40:02.000Z"}))
    replicator.converge(sorted(replicator.dirty))  # the guard cannot tell the claim apart
    _converged(replicator)


def test_a_sweepers_claim_is_not_replaced_by_another_regions_older_change(
        replicator: Replicator) -> None:
    """The same race through the sweeper's own claim (orders/storage.py::mark_swept): it sets
    updatedAt, so the replicator's guard sees it and does not put west's older cancel over it;
    then last writer wins in both regions."""
    from orders import storage
    from tulip import schema

    schema.bind(replicator.cfg)
    table = replicator.cfg.orders_table
    west = replicator.regions[WEST]
    west.ddb.put_item(TableName=table, Item=_accepted("ACCEPTED", "2026-12-07T21:40:00.000Z"))
    replicator.cycle()
    west.ddb.put_item(TableName=table, Item=_accepted("CANCELLED", "2026-12-07T21:40:01.000Z"))
    replicator.read(west)
    assert storage.mark_swept("o-1", "2026-12-07T21:40:02.000Z")  # in east, the bound region
    replicator.converge(sorted(replicator.dirty))
    claimed = _get_order(replicator, EAST)
    assert claimed["sweptAt"] == {"S": "2026-12-07T21:40:02.000Z"}, "the claim was replaced"
    assert claimed["updatedAt"] == {"S": "2026-12-07T21:40:02.000Z"}
    _converged(replicator)
