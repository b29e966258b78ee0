"""The simulated deployment of one region and the people using it.

A `Region` holds its simulated tables (and their streams), queues and Redis; a run of several
regions (tests/sim/regions.py) has one each, and the replication between them. Processes: API
servers (each request runs as a thread of the server that answers it), the tasks worker (the sweeper), matcher
processes (tests/sim/matcher.py) and one process per trader. Traders submit GTC/IOC/FOK and
post-only orders that cross, cancel their own orders, retry whatever got no answer with the same
idempotency key, and sometimes send a request twice.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from devstack.provision import DLQ_MAX_RECEIVE_COUNT, EVENTS_VISIBILITY_TIMEOUT_S
from orders.services import cancel_order, submit_order, sweep_accepted
from tests.sim.ddb.service import SimDynamoDB
from tests.sim.ddb.streams import SimStreams
from tests.sim.faults import Faults
from tests.sim.redis import SimRedis
from tests.sim.sqs import SimSqs
from tests.sim.world import SimProcess, SimThread, World
from tulip import schema
from tulip.config import Config
from tulip.errors import ApiError
from tulip.transient import is_transient

MAX_ATTEMPTS = 12  # a trader's tries of one request before giving up on it
HTTP_LATENCY_S = (0.001, 0.004)


@dataclass
class Region:
    name: str
    cfg: Config
    ddb: SimDynamoDB
    sqs: SimSqs
    redis: SimRedis
    streams: SimStreams

    @classmethod
    def build(cls, world: World, faults: Faults, cfg: Config) -> Region:
        ddb = SimDynamoDB(lambda: world.now, faults.index_lag, cfg.aws_region)
        for spec in schema.TABLES:
            ddb.create_table(schema.create_table_request(spec, spec.name(cfg)))
        sqs = SimSqs(lambda: world.now)
        dead_letter = sqs.create_fifo(cfg.events_dlq_url, 60.0)
        for symbol in cfg.symbols:
            sqs.create_fifo(cfg.events_queue_url(symbol), float(EVENTS_VISIBILITY_TIMEOUT_S),
                            dead_letter, DLQ_MAX_RECEIVE_COUNT)
        return cls(cfg.aws_region, cfg, ddb, sqs, SimRedis(), SimStreams(ddb))

    def table(self, role: str) -> Any:
        return self.ddb.tables[self.cfg.orders_table if role == "orders" else self.cfg.trades_table]


# ------------------------------------------------------------------------------------ history
@dataclass(frozen=True, slots=True)
class Answer:
    client_id: str
    key: str  # the idempotency key (orders) or the order id (cancels)
    kind: str  # order | cancel
    status: int  # 0: no answer (connection refused, reset, timed out)
    order_id: str | None
    at: float


@dataclass
class History:
    answers: list[Answer] = field(default_factory=list)


# ------------------------------------------------------------------------------------ HTTP
class NoAnswer(Exception):
    """The client got no response: the server was down, died while handling, or the answer was
    lost on the way back."""


def http(world: World, faults: Faults, server: SimProcess,
         handler: Callable[[], tuple[int, str | None]]) -> tuple[int, str | None]:
    """One request from the current (client) thread to `server`, handled as a thread of it."""
    world.pass_time(world.rng.uniform(*HTTP_LATENCY_S))
    if not server.alive or server.paused_until > world.now:
        raise NoAnswer
    request = SimThread(f"{server.name}/request", server, lambda: None, server.incarnation)
    result = world.step(request, lambda: _serve(handler))
    if request.dead or result is None:
        raise NoAnswer
    world.pass_time(world.rng.uniform(*HTTP_LATENCY_S))
    if faults.hit("wire:lost_response:http", faults.rates.drop):
        raise NoAnswer
    answer: tuple[int, str | None] = result
    return answer


def _serve(handler: Callable[[], tuple[int, str | None]]) -> tuple[int, str | None]:
    """The view's error handling (tulip/errors.py): an ApiError is its status, a transient
    dependency failure a 503, anything else a 500."""
    try:
        return handler()
    except ApiError as exc:
        return exc.status, None
    except Exception as exc:
        return (503 if is_transient(exc) else 500), None


# ------------------------------------------------------------------------------------ traders
@dataclass(frozen=True, slots=True)
class Intent:
    kind: str  # order | cancel
    key: str
    body: dict[str, Any] = field(default_factory=dict)
    target: int | None = None  # cancel: the position of the order intent it cancels


def script(rng: random.Random, symbols: tuple[str, ...], count: int,
           spread: int = 3) -> list[Intent]:
    """A trader's intents: orders around one price so that they cross, cancels of earlier ones,
    now and then an old key reused for another order (a 409)."""
    intents: list[Intent] = []
    orders: list[int] = []
    for n in range(count):
        roll = rng.random()
        if orders and roll < 0.22:
            intents.append(Intent("cancel", f"cancel-{n}", target=rng.choice(orders)))
            continue
        key = f"k{n}"
        if orders and roll < 0.25:
            key = intents[rng.choice(orders)].key  # reused key, another payload: 409
        orders.append(len(intents))
        intents.append(Intent("order", key, _order_body(rng, symbols, key, spread)))
    return intents


def _order_body(rng: random.Random, symbols: tuple[str, ...], key: str,
                spread: int) -> dict[str, Any]:
    side = rng.choice(("BUY", "SELL"))
    offset = rng.randint(-spread, spread) + (-1 if side == "BUY" else 1)
    tif = rng.choices(("GTC", "IOC", "FOK"), weights=(70, 15, 15))[0]
    body: dict[str, Any] = {"symbol": rng.choice(symbols), "side": side,
                            "qty": rng.randint(1, 8), "price": f"{100 + offset / 100:.2f}",
                            "timeInForce": tif, "idempotencyKey": key}
    if tif == "GTC" and rng.random() < 0.2:
        body["postOnly"] = True
    return body


class Trader:
    def __init__(self, world: World, faults: Faults, process: SimProcess, cfg: Config,
                 intents: list[Intent], servers: list[SimProcess], history: History) -> None:
        self.world = world
        self.faults = faults
        self.process = process
        self.cfg = cfg
        self.intents = intents
        self.servers = servers
        self.history = history
        self.client_id = process.name
        self.position = 0
        self.attempt = 0
        self.order_ids: dict[int, str] = {}
        self.done = False

    def step(self) -> float | None:
        if self.position >= len(self.intents):
            self.done = True
            return None
        intent = self.intents[self.position]
        handler = self._handler(intent)
        if handler is None:
            return self._next()
        if self.attempt == 0 and self.faults.hit("duplicate_request",
                                                 self.faults.rates.duplicate):
            self.world.spawn(self.process, f"{self.client_id}/duplicate",
                             lambda: self._duplicate(intent, handler),
                             self.world.rng.uniform(0.0, 0.02))
        status, order_id = self._once(intent, handler)
        if status in (0, 500, 503) and self.attempt + 1 < MAX_ATTEMPTS:
            self.attempt += 1
            return min(5.0, 0.2 * 2 ** self.attempt) * self.world.rng.uniform(0.5, 1.0)
        if intent.kind == "order" and status in (200, 201) and order_id is not None:
            self.order_ids[self.position] = order_id
        return self._next()

    def _next(self) -> float:
        self.position += 1
        self.attempt = 0
        return self.world.rng.uniform(0.01, 0.6)

    def _handler(self, intent: Intent) -> Callable[[], tuple[int, str | None]] | None:
        cfg, client_id = self.cfg, self.client_id
        if intent.kind == "order":
            def place() -> tuple[int, str | None]:
                result = submit_order(cfg, client_id, dict(intent.body), None)
                return (201 if result.created else 200), result.order.order_id

            return place
        assert intent.target is not None
        order_id = self.order_ids.get(intent.target)
        if order_id is None:
            return None  # the order it would cancel never got an answer

        def cancel() -> tuple[int, str | None]:
            return 200, cancel_order(cfg, client_id, {"orderId": order_id}).order_id

        return cancel

    def _duplicate(self, intent: Intent, handler: Callable[[], tuple[int, str | None]]) -> None:
        """The same request sent again (a double click, a proxy's retry): answered, not retried."""
        self._once(intent, handler)

    def _once(self, intent: Intent, handler: Callable[[], tuple[int, str | None]],
              ) -> tuple[int, str | None]:
        try:
            status, order_id = http(self.world, self.faults, self.world.rng.choice(self.servers),
                                    handler)
        except NoAnswer:
            status, order_id = 0, None
        key = intent.key if intent.kind == "order" else str(self.order_ids.get(
            intent.target or 0))
        self.history.answers.append(Answer(self.client_id, key, intent.kind, status, order_id,
                                           self.world.now))
        return status, order_id


# ------------------------------------------------------------------------------------ sweeper
def start_worker(process: SimProcess, world: World, cfg: Config) -> None:
    """The tasks worker: Celery beat runs the sweeper every SWEEPER_INTERVAL_S."""
    def sweep() -> float:
        with contextlib.suppress(Exception):  # a failed run: beat runs it again next interval
            sweep_accepted(cfg)
        return cfg.sweeper_interval_s

    world.spawn(process, f"{process.name}/sweeper", sweep, world.rng.uniform(0.0, 1.0))
