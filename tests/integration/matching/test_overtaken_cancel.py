"""A user cancel the matcher sequences on an order its replica holds open again (matching/storage.py,
OrderUpdate): in a region whose replica took another region's later, open version of the order
(last writer wins overtook the acknowledged cancel), the CancelRequested still in that region's
queue is carried out when the region leads again, instead of failing its commit on every
redelivery until SQS dead-letters it (found by the simulation, seed 2352: a fail-back consumed
the old leader's queue and its commit was refused three times a receive, ten receives). And one
whose sequencing commit a failover's replica did not receive whole is sequenced once, on the new
epoch's chain (matching/fork.py)."""

from __future__ import annotations

import uuid

from matching.services import Received, ShardMatcher
from matching.storage import MatcherStorage
from tests.integration.ops.ledger_plant import Planter
from tests.support.stack import StackHandle
from tulip import wire
from tulip.config import load_config
from tulip.schema import TERM_EPOCHS

NOW = "2026-12-07T00:00:00.000Z"


def _leading(stack: StackHandle) -> tuple[ShardMatcher, Planter, str]:
    store = MatcherStorage(load_config(stack.env))
    symbol = "X" + uuid.uuid4().hex[:8].upper()  # no matcher of the stack serves it
    shard = store.take_shard(symbol, "test", store.read_shard(symbol), 1, 10**13, NOW, None)
    assert shard is not None and shard.epoch == TERM_EPOCHS + 1
    return ShardMatcher(store.cfg, symbol, store), Planter(stack), symbol


def _cancel(order_id: str, client: str, symbol: str) -> Received:
    body = wire.encode(wire.CancelRequested(orderId=order_id, clientId=client, symbol=symbol,
                                            requestedAt=NOW))
    return Received("m-1", "h-1", body, 1, 1)


def test_an_overtaken_cancel_is_carried_out(stack: StackHandle) -> None:
    matcher, planter, symbol = _leading(stack)
    order_id = planter.order(symbol, "BUY", 5, "OPEN", client="client-a")  # open again here
    matcher.start(matcher.store.read_shard(symbol))
    assert matcher.engine.order(order_id) is not None

    outcome = matcher.process([_cancel(order_id, "client-a", symbol)])

    assert [m.message_id for m in outcome.delete] == ["m-1"]
    assert [(e["type"], e["payload"]["reason"]) for e in outcome.events] == [
        ("OrderCancelled", "user")]
    stored = planter.get_order(order_id)
    assert (stored["status"]["S"], stored["cancelReason"]["S"], stored["filledQty"]["N"]) == (
        "CANCELLED", "user", "0")
    assert "openSort" not in stored and "openSymbol" not in stored  # off the book's index
    assert planter.last_seq(symbol) == 1


def test_a_fill_elsewhere_meanwhile_is_read_before_the_cancel(stack: StackHandle) -> None:
    """The condition still holds the engine to the stored filledQty: a replica that took a fill
    after the book was built refuses the first commit; the rebuilt book cancels what is left."""
    matcher, planter, symbol = _leading(stack)
    order_id = planter.order(symbol, "SELL", 5, "OPEN", client="client-b")
    matcher.start(matcher.store.read_shard(symbol))
    planter.order(symbol, "SELL", 5, "PARTIALLY_FILLED", filled=2, client="client-b",
                  order_id=order_id)  # replicated in after the rebuild

    outcome = matcher.process([_cancel(order_id, "client-b", symbol)])

    (event,) = outcome.events
    assert (event["type"], event["payload"]["filled"], event["payload"]["remaining"]) == (
        "OrderCancelled", 2, 3)
    stored = planter.get_order(order_id)
    assert (stored["status"]["S"], stored["filledQty"]["N"]) == ("CANCELLED", "2")


def test_a_failover_forks_before_a_cancel_whose_sequencing_did_not_replicate(
        stack: StackHandle) -> None:
    """A region chaos run (docs/reliability.md, seed 2203): the new leader's replica held the
    owner's CANCELLED write but not the commit that sequenced it. The new epoch must fork before
    that commit and sequence the cancel once, not continue after it and sequence it again."""
    matcher, planter, symbol = _leading(stack)
    order_id = planter.order(symbol, "BUY", 5, "OPEN", client="client-a")
    matcher.start(matcher.store.read_shard(symbol))
    key = {"pk": {"S": f"ORDER#{order_id}"}, "sk": {"S": f"ORDER#{order_id}"}}
    planter.ddb.update_item(  # POST /cancel (orders/storage.py): CANCELLED, still on the index
        TableName=stack.env["ORDERS_TABLE"], Key=key,
        UpdateExpression="SET #st = :c, cancelReason = :u", ExpressionAttributeNames={"#st": "status"},
        ExpressionAttributeValues={":c": {"S": "CANCELLED"}, ":u": {"S": "user"}})
    owners_write = planter.get_order(order_id)
    (sequenced,) = matcher.process([_cancel(order_id, "client-a", symbol)]).events
    assert (sequenced["type"], sequenced["seq"]) == ("OrderCancelled", 1)
    store, shard = matcher.store, matcher.store.read_shard(symbol)
    assert store.fork_seq(symbol, shard, 2) == 1  # the whole commit is here

    planter.ddb.put_item(TableName=stack.env["ORDERS_TABLE"], Item=owners_write)  # torn
    assert store.fork_seq(symbol, shard, 2) == 0
    taken = store.take_shard(symbol, "west", shard, 2, 10**13, NOW, 0)
    assert taken is not None and taken.epoch == 2 * TERM_EPOCHS + 1
    successor = ShardMatcher(store.cfg, symbol, store)
    successor.start(taken)
    (again,) = successor.process([]).events  # the cancel, sequenced on the new epoch's chain
    assert (again["type"], again["seq"], again["payload"]["orderId"]) == (
        "OrderCancelled", 1, order_id)
    assert "openSort" not in planter.get_order(order_id)
    assert successor.process([]).events == []  # and only once
