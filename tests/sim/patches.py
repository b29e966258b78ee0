"""Where the simulation plugs into the real code (monkeypatching, inside tests/sim only).

* I/O: `tulip.aws.client` (boto3 clients: the matcher's storage and SQS, the producer) and
  PynamoDB's `Connection.client` (order entry's storage, the platform's) go to `Network`.
* Clocks and randomness: every clock the code paths read (`tulip.clock` and the names modules
  imported from it, `time` in order entry and the matcher loop) answers the current simulated
  process's time, skew included; order ids come from the seed.
* Caches keyed by real time (feature flags, leadership) are read through, so that the number of
  calls a step makes never depends on the wall clock.
* Crash windows: the functions that end one durable effect (order entry's transaction, the
  sweeper's claim, a send to the events queue) are wrapped so that a process can die right
  after them (tests/sim/faults.py, CRASH_WINDOWS).
* The matcher loop's shard workers and publishers become simulated threads (tests/sim/matcher.py).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pynamodb.connection.base

import matching.loop
import matching.services
import orders.services
import orders.storage
from tests.sim.network import Network, SimBotocore, SimClient
from tests.sim.world import SimCrash, World
from tulip import aws, clock, events_queue, flags, schema
from tulip.config import Config
from tulip.schema import CANCELLED


class SimTime:
    """Stands in for the `time` module where the code paths use it."""

    def __init__(self, world: World) -> None:
        self.world = world

    def time(self) -> float:
        return self.world.clock()

    def perf_counter(self) -> float:
        return self.world.now

    def monotonic(self) -> float:
        return self.world.now

    def sleep(self, seconds: float) -> None:
        self.world.pass_time(seconds)


def clock_functions(world: World) -> dict[str, Callable[..., Any]]:
    def moment() -> datetime:
        return datetime.fromtimestamp(world.clock(), UTC)

    return {
        "now_iso": lambda: clock.iso(moment()),
        "iso_ago": lambda seconds: clock.iso(moment() - timedelta(seconds=seconds)),
        "now_ms": lambda: int(world.clock() * 1000),
    }


class CrashWindows:
    """Wraps the end of each durable effect with its crash window."""

    def __init__(self, world: World, crash: Callable[[str], bool]) -> None:
        self.world = world
        self.crash = crash

    def _kind(self) -> str:
        current = self.world.current
        return current.process.kind if current is not None else ""

    def after(self, function: Callable[..., Any], windows: dict[str, str],
              when: Callable[[Any], bool] = bool) -> Callable[..., Any]:
        """`function`, after whose (successful, `when`) return the process may die: the window
        is the one named for the calling process's kind."""
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            result = function(*args, **kwargs)
            window = windows.get(self._kind())
            if window is not None and when(result) and self.crash(window):
                raise SimCrash
            return result

        return wrapped


@contextlib.contextmanager
def simulated(world: World, network: Network, cfg: Config, crash: Callable[[str], bool],
              shard_worker: type[Any]) -> Iterator[None]:
    """Install every seam for the duration of one run; everything is restored afterwards."""
    sim_time = SimTime(world)
    functions = clock_functions(world)
    windows = CrashWindows(world, crash)
    saved_disable = logging.root.manager.disable
    with contextlib.ExitStack() as stack:
        patch = patcher(stack)
        patch(aws, "client", lambda service, cfg, profile="product", region=None: SimClient(
            network, service, region))
        patch(pynamodb.connection.base.Connection, "client",
              property(lambda self: SimBotocore(network)))
        patch(flags, "current_flags", lambda cfg: cfg.feature_flags)
        _patch_regions(patch)
        for module in (clock, orders.services, matching.services, matching.loop):
            for name, function in functions.items():
                if hasattr(module, name):
                    patch(module, name, function)
        for module in (orders.services, matching.services, matching.loop):
            patch(module, "time", sim_time)
        patch(orders.services, "secrets", SimpleNamespace(
            token_hex=lambda n: f"{world.rng.getrandbits(8 * n):0{2 * n}x}"))
        patch(matching.loop, "ShardWorker", shard_worker)
        if hasattr(orders.services, "_recent_keys"):  # a run starts as fresh processes do
            patch(orders.services, "_recent_keys", type(orders.services._recent_keys)())
        patch(orders.storage, "put_order_with_idempotency", windows.after(
            orders.storage.put_order_with_idempotency, {"api": "api_after_commit"},
            when=lambda _: True))
        patch(orders.storage, "cancel_if_open", windows.after(
            orders.storage.cancel_if_open, {"api": "api_after_commit"},
            when=lambda order: order is not None and order.status == CANCELLED))
        patch(orders.storage, "mark_swept", windows.after(
            orders.storage.mark_swept, {"worker": "worker_after_claim"}))
        patch(events_queue, "send", windows.after(events_queue.send, {"api": "api_after_send"}))
        logging.disable(logging.CRITICAL)
        stack.callback(logging.disable, saved_disable)
        stack.callback(_unbind)
        schema.bind(cfg)
        yield


def patcher(stack: contextlib.ExitStack) -> Callable[[Any, str, Any], None]:
    def patch(owner: Any, name: str, value: Any) -> None:
        original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
        setattr(owner, name, value)
        stack.callback(setattr, owner, name, original)

    return patch


def _patch_regions(patch: Callable[[Any, str, Any], None]) -> None:
    """Leadership is read through (its cache is keyed by the wall clock), when the tree has it."""
    with contextlib.suppress(ImportError):
        from tulip import regions

        patch(regions, "current", regions.read)


def _unbind() -> None:
    """Forget the simulated binding: the next `schema.bind` starts from clean connections."""
    for spec in schema.TABLES:
        for model in spec.models:
            model._connection = None
    schema._bound = None
    schema._transactions = None

