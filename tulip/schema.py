"""The schema of record: every DynamoDB table, index, key prefix and item shape, defined once.

docs/storage.md explains each item; this module is what the code reads. Everything else derives
from it: local provisioning and the deploy stack create the tables from `TABLES`
(`create_table_request`, `TableSpec`), the storage modules read and write these models (or, on
the matcher's hot path, low-level items built by `ItemCodec` from the same attribute
definitions), and the Streams readers decode images with `model_for_key` + `from_raw_data`.

Two tables, several item kinds each, told apart by the key prefix (single-table style: the
matcher's commit must put trades, event pages and the shard item in one transaction, and order
entry the order with its idempotency record):
  orders table   ORDER#<orderId>       OrderItem
                 IDEMP#<IK>            IdempotencyItem (TTL expiresAt, >= 72 h)
  trades table   TRADE#<tradeId>       TradeItem
                 EVENTS#<symbol>/<lastSeq:020d>  EventPageItem (a commit's market events)
                 SHARD#<symbol>        ShardItem (the sequencer: lastSeq, epoch; fencing; lease)
                 EPOCHS#<symbol>/<epoch>  EpochItem (where each epoch started, what it continued)
                 LEADER                LeaderItem (the leader region and its term)
                 REGION#<region>       RegionStatusItem (its health monitor's view)
                 REPLICATION/<src>><dst>  ReplicationItem (replication lag)
                 MATCHERS/<processId>  MatcherItem (live matcher processes)
Pure declarations plus `bind`, which points the models at the configured tables and endpoint.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Final

from pynamodb.attributes import Attribute, BooleanAttribute, UnicodeAttribute
from pynamodb.connection import Connection
from pynamodb.constants import BOOLEAN, NUMBER, STRING
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from tulip import aws
from tulip.config import Config

# ------------------------------------------------------------------------------------ states
ACCEPTED: Final = "ACCEPTED"
OPEN: Final = "OPEN"
PARTIALLY_FILLED: Final = "PARTIALLY_FILLED"
FILLED: Final = "FILLED"
CANCELLED: Final = "CANCELLED"
# An order in one of these states may still trade or be cancelled (conditions name them).
OPEN_STATES: Final = (ACCEPTED, OPEN, PARTIALLY_FILLED)
TERMINAL_STATES: Final = (FILLED, CANCELLED)
USER_CANCEL_REASON: Final = "user"  # cancelReason of an order its owner cancelled (POST /cancel)

IDEMPOTENCY_TTL_S: Final = 7 * 24 * 3600  # contract: >= 72 h; a week leaves room for slow retriers
PAGE_SEQ_WIDTH: Final = 20  # event page sort keys and resting-order sort keys: zero-padded seqs
EPOCH_WIDTH: Final = 12


class IntegerAttribute(Attribute[int]):
    """A DynamoDB number that is an integer here: quantities, ticks, seqs, epochs (never floats)."""

    attr_type = NUMBER

    def serialize(self, value: int) -> str:
        return _number(value)

    def deserialize(self, value: str) -> int:
        return int(value)


# ------------------------------------------------------------------------------------ orders
class ClientOrdersIndex(GlobalSecondaryIndex["OrderItem"]):
    """A client's orders by time (order items only: idempotency records use other names)."""

    class Meta:
        index_name = "clientOrders"
        projection = AllProjection()

    client_id = UnicodeAttribute(hash_key=True, attr_name="clientId")
    created_at = UnicodeAttribute(range_key=True, attr_name="createdAt")


class OpenOrdersIndex(GlobalSecondaryIndex["OrderItem"]):
    """Sparse: only open orders carry openSymbol/openSort. `A#<acceptedAt>#<id>` while ACCEPTED
    (the sweeper's range), `B#<seq:020d>` once resting (the book's priority order, for rebuilds)."""

    class Meta:
        index_name = "openOrders"
        projection = AllProjection()

    open_symbol = UnicodeAttribute(hash_key=True, attr_name="openSymbol")
    open_sort = UnicodeAttribute(range_key=True, attr_name="openSort")


class OrderItem(Model):
    PREFIX: ClassVar[str] = "ORDER#"

    class Meta:
        table_name = "tulip-orders"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    order_id = UnicodeAttribute(attr_name="orderId")
    client_id = UnicodeAttribute(attr_name="clientId")
    idempotency_key = UnicodeAttribute(attr_name="idempotencyKey")  # the IK hash, not the raw key
    symbol = UnicodeAttribute()
    side = UnicodeAttribute()
    qty = IntegerAttribute()
    price_ticks = IntegerAttribute(attr_name="priceTicks")
    time_in_force = UnicodeAttribute(attr_name="timeInForce", default="GTC")
    post_only = BooleanAttribute(attr_name="postOnly", default=False)
    # The order's self-trade prevention mode (SELF_TRADE_PREVENTION), written only when it is not
    # the default (cancelNewest): an item without it is matched as every order was before.
    self_trade_prevention = UnicodeAttribute(attr_name="selfTradePrevention", null=True)
    status = UnicodeAttribute()
    filled_qty = IntegerAttribute(attr_name="filledQty", default=0)
    # Σ price_ticks × qty over fills, so avgFillPrice is exact integer arithmetic.
    filled_notional = IntegerAttribute(attr_name="filledNotionalTicks", default=0)
    created_at = UnicodeAttribute(attr_name="createdAt")
    accepted_at = UnicodeAttribute(attr_name="acceptedAt")
    updated_at = UnicodeAttribute(attr_name="updatedAt")
    region = UnicodeAttribute()
    accepted_az = UnicodeAttribute(attr_name="acceptedAz", null=True)
    seq = IntegerAttribute(null=True)  # the last event seq that changed it
    # ...and the shard epoch that committed that event: an order whose (epoch, seq) is off the
    # canonical chain carries a deposed leader's state (tulip/epochs.py, matching/fork.py).
    epoch = IntegerAttribute(null=True)
    cancel_reason = UnicodeAttribute(attr_name="cancelReason", null=True)
    open_symbol = UnicodeAttribute(attr_name="openSymbol", null=True)
    open_sort = UnicodeAttribute(attr_name="openSort", null=True)
    swept_at = UnicodeAttribute(attr_name="sweptAt", null=True)
    # Accepted by a follower that could not reach the leader (acceptWhenLeaderDown): reconciled
    # once the regions see each other again (docs/architecture.md, "Regions").
    provisional = BooleanAttribute(null=True)

    client_orders = ClientOrdersIndex()
    open_orders = OpenOrdersIndex()

    @classmethod
    def key(cls, order_id: str) -> str:
        return cls.PREFIX + order_id

    @property
    def remaining(self) -> int:
        return int(self.qty) - int(self.filled_qty or 0)


# Self-trade prevention as the API names the modes (docs/api.md, POST /order); the matcher maps
# each to the engine's mode of the same meaning (matching/services.py).
SELF_TRADE_PREVENTION: Final = ("cancelNewest", "cancelOldest", "cancelBoth")
DEFAULT_SELF_TRADE_PREVENTION: Final = "cancelNewest"


def accepted_sort_key(accepted_at: str, order_id: str) -> str:
    """openOrders range key while ACCEPTED: the sweeper finds the old ones by range."""
    return f"A#{accepted_at}#{order_id}"


def resting_sort_key(seq: int) -> str:
    """openOrders range key once resting: the book's priority order (the seq it rested at)."""
    return f"B#{seq:0{PAGE_SEQ_WIDTH}d}"


ACCEPTED_SORT_PREFIX: Final = "A#"
RESTING_SORT_PREFIX: Final = "B#"


class IdempotencyItem(Model):
    PREFIX: ClassVar[str] = "IDEMP#"

    class Meta:
        table_name = "tulip-orders"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    order_id = UnicodeAttribute(attr_name="orderId")
    # Not "clientId"/"createdAt": those names would project the record into clientOrders.
    client_id = UnicodeAttribute(attr_name="ownerClientId")
    fingerprint = UnicodeAttribute()
    created_at = UnicodeAttribute(attr_name="recordedAt")
    expires_at = IntegerAttribute(attr_name="expiresAt")  # TTL, epoch seconds

    @classmethod
    def key(cls, ik: str) -> str:
        return cls.PREFIX + ik


class CancelItem(Model):
    """A user cancel POST /cancel acknowledged (docs/storage.md): written in the transaction that
    made its order CANCELLED, never changed. Replication settles two writes of one order by last
    writer wins, so a later write of a region that never saw the cancel (a new leader after a
    cut) can overtake it: reconciliation compares every record with its order
    (ops/checks.py, `cancel_overtaken`)."""

    PREFIX: ClassVar[str] = "CANCEL#"

    class Meta:
        table_name = "tulip-orders"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    order_id = UnicodeAttribute(attr_name="orderId")
    # Not "clientId": that name would project the record into clientOrders.
    client_id = UnicodeAttribute(attr_name="ownerClientId")
    symbol = UnicodeAttribute()
    cancelled_at = UnicodeAttribute(attr_name="cancelledAt")
    region = UnicodeAttribute()

    @classmethod
    def key(cls, order_id: str) -> str:
        return cls.PREFIX + order_id


# ------------------------------------------------------------------------------------ trades
class SymbolTradesIndex(GlobalSecondaryIndex["TradeItem"]):
    class Meta:
        index_name = "symbolTrades"
        projection = AllProjection()

    # Only trades carry tradeSymbol: event pages and shard items also have `symbol` and must not
    # appear in this index.
    trade_symbol = UnicodeAttribute(hash_key=True, attr_name="tradeSymbol")
    seq = IntegerAttribute(range_key=True)


class BuyerFillsIndex(GlobalSecondaryIndex["TradeItem"]):
    class Meta:
        index_name = "buyerFills"
        projection = AllProjection()

    buy_client_id = UnicodeAttribute(hash_key=True, attr_name="buyClientId")
    seq = IntegerAttribute(range_key=True)


class SellerFillsIndex(GlobalSecondaryIndex["TradeItem"]):
    class Meta:
        index_name = "sellerFills"
        projection = AllProjection()

    sell_client_id = UnicodeAttribute(hash_key=True, attr_name="sellClientId")
    seq = IntegerAttribute(range_key=True)


class TradeItem(Model):
    PREFIX: ClassVar[str] = "TRADE#"

    class Meta:
        table_name = "tulip-trades"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    trade_id = UnicodeAttribute(attr_name="tradeId")
    symbol = UnicodeAttribute()
    trade_symbol = UnicodeAttribute(attr_name="tradeSymbol")
    seq = IntegerAttribute()
    price_ticks = IntegerAttribute(attr_name="priceTicks")
    qty = IntegerAttribute()
    taker_side = UnicodeAttribute(attr_name="takerSide")
    buy_order_id = UnicodeAttribute(attr_name="buyOrderId")
    sell_order_id = UnicodeAttribute(attr_name="sellOrderId")
    buy_client_id = UnicodeAttribute(attr_name="buyClientId")
    sell_client_id = UnicodeAttribute(attr_name="sellClientId")
    maker_order_id = UnicodeAttribute(attr_name="makerOrderId", null=True)
    taker_order_id = UnicodeAttribute(attr_name="takerOrderId", null=True)
    ts = UnicodeAttribute()
    region = UnicodeAttribute()
    fill_az = UnicodeAttribute(attr_name="fillAz", null=True)
    epoch = IntegerAttribute(null=True)  # the shard's epoch that committed it (tulip/epochs.py)

    symbol_trades = SymbolTradesIndex()
    buyer_fills = BuyerFillsIndex()
    seller_fills = SellerFillsIndex()

    @classmethod
    def key(cls, trade_id: str) -> str:
        return cls.PREFIX + trade_id


def trade_id(symbol: str, epoch: int, seq: int) -> str:
    """Deterministic from shard, epoch and seq: a replayed commit writes the same id and is
    refused; a deposed region's un-replicated commit at the same seq (another epoch) keeps its
    own id, so replication never overwrites one trade with another (docs/architecture.md,
    "Regions")."""
    return f"{symbol}-{epoch}-{seq:012d}"


# ------------------------------------------------------------------------------------ epochs
# An epoch is a shard's leadership period. Its leading digits are the leadership term of the
# region that took it (terms only grow, one per failover), so epochs taken by two regions that
# could not see each other never collide, and a newer leadership's epochs are always larger.
TERM_EPOCHS: Final = 1_000_000


def epoch_term(epoch: int) -> int:
    return epoch // TERM_EPOCHS


class EventPageItem(Model):
    """One commit's market events (tulip/event_pages.py encodes and decodes the `events` JSON).
    Sort key: the page's LAST seq, then its epoch, both zero-padded: pages of one epoch are in
    seq order, and an old epoch's un-replicated page at a seq the new epoch also used is a
    different item (the canonical one is chosen by the epoch chain, tulip/epochs.py)."""

    PREFIX: ClassVar[str] = "EVENTS#"

    class Meta:
        table_name = "tulip-trades"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    symbol = UnicodeAttribute()
    first_seq = IntegerAttribute(attr_name="firstSeq")
    last_seq = IntegerAttribute(attr_name="lastSeq")
    epoch = IntegerAttribute(null=True)  # absent on pages written before epochs were recorded
    events = UnicodeAttribute()

    @classmethod
    def key(cls, symbol: str) -> str:
        return cls.PREFIX + symbol

    @staticmethod
    def sort_key(seq: int, epoch: int) -> str:
        return f"{max(seq, 0):0{PAGE_SEQ_WIDTH}d}{epoch:0{EPOCH_WIDTH}d}"

    @staticmethod
    def first_key_of(seq: int) -> str:
        """The smallest sort key of any page whose last seq is `seq` (range queries by seq)."""
        return f"{max(seq, 0):0{PAGE_SEQ_WIDTH}d}{'0' * EPOCH_WIDTH}"

    @staticmethod
    def last_key_of(seq: int) -> str:
        """The largest sort key of any page whose last seq is `seq`."""
        return f"{max(seq, 0):0{PAGE_SEQ_WIDTH}d}{'9' * EPOCH_WIDTH}"


class ShardItem(Model):
    """The shard's sequencer record and its lease. Every commit to the shard's ledger (the
    matcher's batches, ops' Reconciled events) is conditioned on `epoch` and `lastSeq` here:
    fencing. A matcher process holds the shard by a lease (`holder`, `leaseExpiresAt`, renewed by
    a conditional write); taking the shard bumps `epoch`, so the previous holder's commits fail.
    The expiry is the holder's own clock: it only tells others when to try a take; the epoch
    condition decides who wins (docs/architecture.md, "Shard leases")."""

    PREFIX: ClassVar[str] = "SHARD#"

    class Meta:
        table_name = "tulip-trades"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    symbol = UnicodeAttribute(null=True)
    last_seq = IntegerAttribute(attr_name="lastSeq", default=0)
    epoch = IntegerAttribute(default=0)
    # SQS SequenceNumber of the last applied message (a 20+ digit decimal string).
    last_sqs_seq = UnicodeAttribute(attr_name="lastSqsSeq", null=True)
    holder = UnicodeAttribute(null=True)  # the matcher process holding the lease; absent: free
    lease_expires_ms = IntegerAttribute(attr_name="leaseExpiresAt", null=True)  # epoch ms
    taken_at = UnicodeAttribute(attr_name="takenAt", null=True)  # when this epoch began
    updated_at = UnicodeAttribute(attr_name="updatedAt", null=True)

    @classmethod
    def key(cls, symbol: str) -> str:
        return cls.PREFIX + symbol


class EpochItem(Model):
    """One epoch of a shard, written with the take that began it and never changed: where it
    started (the shard's lastSeq then) and which epoch it continued (the one the taker read).
    Following `parent` from the newest epoch gives the shard's canonical history
    (tulip/epochs.py); an epoch off that chain is a deposed region's un-replicated tail."""

    PREFIX: ClassVar[str] = "EPOCHS#"

    class Meta:
        table_name = "tulip-trades"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)  # the epoch, zero-padded
    epoch = IntegerAttribute()
    parent = IntegerAttribute()
    start_seq = IntegerAttribute(attr_name="startSeq")
    region = UnicodeAttribute()
    holder = UnicodeAttribute()
    taken_at = UnicodeAttribute(attr_name="takenAt")

    @classmethod
    def key(cls, symbol: str) -> str:
        return cls.PREFIX + symbol

    @staticmethod
    def sort_key(epoch: int) -> str:
        return f"{epoch:0{EPOCH_WIDTH}d}"


class LeaderItem(Model):
    """Which region leads (docs/architecture.md, "Regions"): its shards' leases are held there and
    every write goes there. `term` grows by one at every change of leader; replication resolves
    two writes of this item by term first."""

    PREFIX: ClassVar[str] = "LEADER"

    class Meta:
        table_name = "tulip-trades"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    leader_region = UnicodeAttribute(attr_name="leaderRegion")
    term = IntegerAttribute()
    since = UnicodeAttribute()
    reason = UnicodeAttribute(null=True)

    @classmethod
    def key(cls) -> str:
        return cls.PREFIX


class RegionStatusItem(Model):
    """What a region's health monitor last saw (the Route 53 health check's role): when another
    region last answered, and whether this region stepped down (a leader that cannot see any
    other region stops writing before a follower may take over)."""

    PREFIX: ClassVar[str] = "REGION#"

    class Meta:
        table_name = "tulip-trades"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    region = UnicodeAttribute()
    stepped_down = BooleanAttribute(attr_name="steppedDown", default=False)
    peer_seen_ms = IntegerAttribute(attr_name="peerSeenAt", null=True)
    # The term this region took over while it could see no other region (its monitor's automatic
    # failover in a split): such a leader does not step down for being isolated, or nobody
    # would lead; seeing another region again clears it.
    isolated_takeover_term = IntegerAttribute(attr_name="isolatedTakeoverTerm", null=True)
    # The newest leadership term another region reported (GET /region): while this replica's
    # record is older, this region was deposed and does not lead, whatever its record says.
    peer_term = IntegerAttribute(attr_name="peerTerm", null=True)
    leader_seen_ms = IntegerAttribute(attr_name="leaderSeenAt", null=True)
    checked_ms = IntegerAttribute(attr_name="checkedAt")

    @classmethod
    def key(cls, region: str) -> str:
        return cls.PREFIX + region


class ReplicationItem(Model):
    """The simulated Global Tables' progress from one region to another (the replicator writes
    it into the target region): how far behind the target is."""

    PREFIX: ClassVar[str] = "REPLICATION"

    class Meta:
        table_name = "tulip-trades"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)  # "<source>><target>"
    source = UnicodeAttribute()
    target = UnicodeAttribute()
    lag_ms = IntegerAttribute(attr_name="lagMs")
    applied_ms = IntegerAttribute(attr_name="appliedAt")
    paused = BooleanAttribute(default=False)  # a partition holds it back

    @classmethod
    def key(cls) -> str:
        return cls.PREFIX


class MatcherItem(Model):
    """A live matcher process (membership): the fair share of shards each process aims for is
    the shard count over the live members. Renewed with its leases; gone when it expires."""

    PREFIX: ClassVar[str] = "MATCHERS"
    # Every member under one partition: one Query lists them (a handful of processes).
    PARTITION: ClassVar[str] = "MATCHERS"

    class Meta:
        table_name = "tulip-trades"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)  # the process id
    holder = UnicodeAttribute()
    region = UnicodeAttribute(null=True)  # members count only within their region
    expires_ms = IntegerAttribute(attr_name="expiresAt")  # epoch ms; the member is gone after it
    started_at = UnicodeAttribute(attr_name="startedAt")
    shards = UnicodeAttribute(null=True)  # comma-separated symbols held (for people, not logic)


ORDERS_MODELS: Final[tuple[type[Model], ...]] = (OrderItem, IdempotencyItem, CancelItem)
TRADES_MODELS: Final[tuple[type[Model], ...]] = (TradeItem, EventPageItem, ShardItem,
                                                  EpochItem, LeaderItem, RegionStatusItem,
                                                  ReplicationItem, MatcherItem)
MODELS: Final[tuple[type[Model], ...]] = ORDERS_MODELS + TRADES_MODELS


def model_for_key(pk: str) -> type[Model] | None:
    """Which item kind a key names (Streams readers, the replicator): by its prefix."""
    for model in MODELS:
        if pk.startswith(getattr(model, "PREFIX")):  # noqa: B009 - ClassVar on Model subclasses
            return model
    return None


def raw_key(pk: str, sk: str | None = None) -> dict[str, dict[str, str]]:
    """A low-level key; items whose sort key repeats the partition key pass only `pk`."""
    return {"pk": {"S": pk}, "sk": {"S": pk if sk is None else sk}}


# ------------------------------------------------------------------------------------ Redis
def book_snapshot_key(prefix: str, symbol: str) -> str:
    """The Redis key of a symbol's top-of-book snapshot (the matcher publishes it after each
    commit; GET /book and the WebSocket snapshot read it, DynamoDB being the fallback)."""
    return f"{prefix}:book:{symbol}"


# ------------------------------------------------------------------------------------ tables
@dataclass(frozen=True, slots=True)
class IndexSpec:
    name: str
    partition_key: tuple[str, str]  # (attribute name, DynamoDB type S|N)
    sort_key: tuple[str, str]


@dataclass(frozen=True, slots=True)
class TableSpec:
    """A table as provisioning (moto locally, the CDK stack on AWS) creates it."""

    role: str  # "orders" | "trades": which Config name holds its table name
    models: tuple[type[Model], ...]
    partition_key: tuple[str, str]
    sort_key: tuple[str, str]
    indexes: tuple[IndexSpec, ...]
    ttl_attribute: str | None
    stream_view: str = "NEW_AND_OLD_IMAGES"  # the projector, reconciliation, the replicator

    def name(self, cfg: Config) -> str:
        return cfg.orders_table if self.role == "orders" else cfg.trades_table

    @property
    def attribute_types(self) -> dict[str, str]:
        keys = [self.partition_key, self.sort_key]
        for index in self.indexes:
            keys += [index.partition_key, index.sort_key]
        return dict(keys)


def _key_of(attributes: dict[str, Attribute[Any]], hash_key: bool) -> tuple[str, str]:
    for attribute in attributes.values():
        if (attribute.is_hash_key if hash_key else attribute.is_range_key):
            return attribute.attr_name, attribute.attr_type
    raise ValueError("a table and each of its indexes have a partition and a sort key")


def _table_spec(role: str, models: tuple[type[Model], ...], ttl: str | None) -> TableSpec:
    first = models[0].get_attributes()
    indexes: dict[str, IndexSpec] = {}
    for model in models:
        assert _key_of(model.get_attributes(), True) == _key_of(first, True), "one key per table"
        for index in getattr(model, "_indexes").values():  # noqa: B009 - PynamoDB's registry
            attributes = index.Meta.attributes
            indexes[index.Meta.index_name] = IndexSpec(
                index.Meta.index_name, _key_of(attributes, True), _key_of(attributes, False))
    return TableSpec(role, models, _key_of(first, True), _key_of(first, False),
                     tuple(indexes.values()), ttl)


ORDERS_TABLE: Final = _table_spec("orders", ORDERS_MODELS, IdempotencyItem.expires_at.attr_name)
TRADES_TABLE: Final = _table_spec("trades", TRADES_MODELS, None)
TABLES: Final = (ORDERS_TABLE, TRADES_TABLE)


def create_table_request(spec: TableSpec, table_name: str) -> dict[str, Any]:
    """boto3 `CreateTable` arguments for a table (on-demand, streams on, every index ALL)."""
    def key_schema(partition: tuple[str, str], sort: tuple[str, str]) -> list[dict[str, str]]:
        return [{"AttributeName": partition[0], "KeyType": "HASH"},
                {"AttributeName": sort[0], "KeyType": "RANGE"}]

    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": name, "AttributeType": kind}
                                 for name, kind in spec.attribute_types.items()],
        "KeySchema": key_schema(spec.partition_key, spec.sort_key),
        "GlobalSecondaryIndexes": [
            {"IndexName": index.name, "KeySchema": key_schema(index.partition_key, index.sort_key),
             "Projection": {"ProjectionType": "ALL"}} for index in spec.indexes],
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": spec.stream_view},
    }


# ------------------------------------------------------------------------------------ low level
class ItemCodec:
    """Low-level items for the hot paths, generated from a model's attribute definitions: the
    matcher builds ~20 transaction items per batch, and constructing PynamoDB models for each
    would cost more than the attribute walk this does once per model."""

    def __init__(self, model: type[Model]) -> None:
        self.model = model
        self.names: dict[str, str] = {}  # python name -> DynamoDB attribute name
        self._encoders: dict[str, tuple[str, str, Callable[[Any], Any]]] = {}
        for name, attribute in model.get_attributes().items():
            kind = attribute.attr_type
            assert kind in (STRING, NUMBER, BOOLEAN), f"{model.__name__}.{name}: {kind}"
            encode: Callable[[Any], Any] = bool if kind == BOOLEAN else (
                _number if kind == NUMBER else str)
            self.names[name] = attribute.attr_name
            self._encoders[name] = (attribute.attr_name, kind, encode)

    def item(self, **values: Any) -> dict[str, dict[str, Any]]:
        """The item's DynamoDB JSON; None values are left out (absent attributes)."""
        item: dict[str, dict[str, Any]] = {}
        for name, value in values.items():
            if value is not None:
                attr_name, kind, encode = self._encoders[name]
                item[attr_name] = {kind: encode(value)}
        return item

    def value(self, name: str, value: Any) -> dict[str, Any]:
        """One attribute value (for ExpressionAttributeValues)."""
        _, kind, encode = self._encoders[name]
        return {kind: encode(value)}


def _number(value: Any) -> str:
    assert isinstance(value, int) and not isinstance(value, bool), f"integers only: {value!r}"
    return str(value)


# ------------------------------------------------------------------------------------ binding
_bound: Config | None = None
_transactions: Connection | None = None


def bind(cfg: Config) -> None:
    """Point the models at the configured tables and endpoint. Called once per process by the
    apps' ready(); tests that drive storage in-process call it with their stack's config."""
    global _bound, _transactions
    if _bound == cfg:
        return
    credentials = aws.LOCAL_CREDENTIALS if cfg.aws_endpoint_url else {}
    for spec in TABLES:
        for model in spec.models:
            meta: Any = model.Meta
            meta.table_name = spec.name(cfg)
            meta.region = cfg.aws_region
            meta.host = cfg.aws_endpoint_url
            meta.aws_access_key_id = credentials.get("aws_access_key_id")
            meta.aws_secret_access_key = credentials.get("aws_secret_access_key")
            meta.connect_timeout_seconds = 2
            meta.read_timeout_seconds = 10
            meta.max_retry_attempts = 3
            meta.max_pool_connections = 50
            model._connection = None  # rebuilt lazily with the new settings (indexes use it too)
    _transactions = Connection(
        region=cfg.aws_region, host=cfg.aws_endpoint_url, connect_timeout_seconds=2,
        read_timeout_seconds=10, max_retry_attempts=3, max_pool_connections=50,
        aws_access_key_id=credentials.get("aws_access_key_id"),
        aws_secret_access_key=credentials.get("aws_secret_access_key"))
    _bound = cfg


def transactions() -> Connection:
    """The connection PynamoDB transactions run on (bound by `bind`)."""
    assert _transactions is not None, "tulip.schema.bind() was not called"
    return _transactions
