"""Locust users for the `smoke` and `stress` profiles (bench/load/profiles.py), run headless by
`python -m bench.load` (`make load`), which passes the plan and the tokens through LOAD_*
variables (see `_setting` below). Two kinds of user:

- TraderUser (HTTP, keep-alive, `constant_throughput`): a realistic mix of passive adds, crossing
  GTC/IOC/FOK orders, post-only adds, cancels of its own resting orders, retries that reuse an
  idempotency key (must answer 200 with the same orderId), and a few bad requests that must be
  refused with their 4xx (a 4xx they expect is a success; anything else is a failure).
- SubscriberUser (WebSocket, docs/api.md "WebSocket stream"): subscribes to every symbol's
  `trades:` and `book:` topics and checks the `seq`/`prevSeq` chain of every message and the
  heartbeat's `seqs`; a break is a failure ("seq/prevSeq continuity"). Each trade's
  commit-to-client latency (its event `ts`, stamped by the matcher as it builds the commit, to
  arrival here; same host, same clock, millisecond resolution) is reported as a WS request.

A step shape drives the user count (first an unmeasured warm-up at the first step's users, then
the steps); a collector keeps per-step figures (the accept path's
latency, errors, the subscribers' latency and gaps) and writes them to LOAD_STEPS_OUT when the
run stops. The runner turns those into the knee.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import threading
import time
import uuid
from collections import deque
from datetime import datetime
from pathlib import Path
from typing import Any

import websocket
from locust import FastHttpUser, LoadTestShape, User, constant, constant_throughput, events, task

from bench.load import profiles

SPAWN_RATE = 50.0  # users/s: a step's users join within a second or two
MID_TICKS = 10_000  # 100.00: the load's reference price
# How many of each kind of request, per hundred (the task weights below).
MIX = {"passive": 33, "cross_gtc": 10, "cross_ioc": 8, "cross_fok": 5, "post_only": 10,
       "cancel": 16, "retry": 8, "bad": 3}
ACCEPT_PREFIX = "POST /order "  # names of the accept-path requests (the knee's latency)
BAD_NAME = "POST /order bad (4xx expected)"


def _setting(name: str, default: str) -> str:
    return os.environ.get(name, default)


PROFILE = profiles.from_json(json.loads(_setting(
    "LOAD_PLAN", json.dumps(profiles.to_json(profiles.SMOKE)))))
TOKENS: list[str] = (json.loads(Path(_setting("LOAD_TOKENS_FILE", "")).read_text(encoding="utf-8"))
                     if _setting("LOAD_TOKENS_FILE", "") else [])
HOSTS: list[str] = json.loads(_setting("LOAD_HOSTS", "[]"))
SYMBOLS: list[str] = [s for s in _setting("LOAD_SYMBOLS", "TULIP").split(",") if s]
STEPS_OUT = _setting("LOAD_STEPS_OUT", "")


def price(ticks: int) -> str:
    return f"{ticks // 100}.{ticks % 100:02d}"


class ContinuityError(Exception):
    """A stream message whose prevSeq does not chain to the last seq seen on its topic."""


class UnexpectedAnswer(Exception):
    pass


# ------------------------------------------------------------------------------ per-step figures
class Collector:
    def __init__(self, profile: profiles.Profile) -> None:
        self.profile = profile
        self.lock = threading.Lock()
        self.started: float | None = None
        self.stopped: float | None = None
        self.tallies = [profiles.StepTally(i, s.rate, profile.users(s))
                        for i, s in enumerate(profile.steps)]
        self.subscribers = {"connects": 0, "disconnects": 0, "messages": 0, "trades": 0,
                            "books": 0, "gaps": 0, "heartbeats": 0}
        self.written = False

    @property
    def measured_from(self) -> float | None:
        """When the warm-up ends and the first step starts (monotonic)."""
        return None if self.started is None else self.started + self.profile.warmup_s

    def _measured(self, now: float) -> profiles.StepTally | None:
        """The tally of the step whose measured window `now` falls in (None during the warm-up
        and while a step settles)."""
        if self.measured_from is None or now < self.measured_from:
            return None
        run_time = now - self.measured_from
        index = self.profile.step_at(run_time)
        if index >= len(self.tallies):
            return None
        if run_time - self.profile.step_start(index) < self.profile.settle_s:
            return None
        return self.tallies[index]

    def on_request(self, request_type: str, name: str, response_time: float,
                   exception: BaseException | None, **_: Any) -> None:
        with self.lock:
            tally = self._measured(time.monotonic())
            if tally is None:
                return
            if request_type == "WS":
                if exception is not None:
                    tally.ws_gaps += 1
                else:
                    tally.ws_commit_ms.append(float(response_time))
                return
            tally.requests += 1
            if exception is not None:
                tally.errors += 1
            elif name.startswith(ACCEPT_PREFIX) and name != BAD_NAME:
                tally.accept_ms.append(float(response_time))

    def ws_message(self, kind: str) -> None:
        with self.lock:
            self.subscribers["messages"] += 1
            if kind in ("trade", "book", "heartbeat"):
                self.subscribers[kind + "s"] += 1
            tally = self._measured(time.monotonic())
            if tally is not None:
                tally.ws_messages += 1

    def count(self, what: str) -> None:
        with self.lock:
            self.subscribers[what] += 1

    def results(self, until: float | None = None) -> list[dict[str, Any]]:
        """Step results for every step that started, each over its measured window."""
        if self.measured_from is None:
            return []
        end = (until if until is not None else time.monotonic()) - self.measured_from
        out = []
        for tally in self.tallies:
            begin = self.profile.step_start(tally.index)
            if begin + self.profile.settle_s >= end:
                break  # not started, or stopped before its measured window opened
            stop = min(end, begin + self.profile.steps[tally.index].seconds)
            tally.window_s = max(0.0, stop - begin - self.profile.settle_s)
            out.append(profiles.step_result(tally))
        return out

    def finished_results(self, index: int) -> list[dict[str, Any]]:
        with self.lock:
            assert self.measured_from is not None
            return self.results(self.measured_from + self.profile.step_start(index))

    def write(self) -> None:
        with self.lock:
            if self.written or not STEPS_OUT:
                return
            self.written = True
            stopped = self.stopped or time.monotonic()
            steps = self.results(stopped)
            # Wall-clock time of the warm-up's end: the gate's window opens after it (run.py).
            measured_from = (time.time() - (time.monotonic() - self.measured_from)
                             if self.measured_from is not None else None)
            data = {"profile": profiles.to_json(self.profile), "steps": steps,
                    "measuredFrom": measured_from,
                    "runS": round(stopped - (self.started or stopped), 1),
                    "stoppedEarly": len(steps) < len(self.profile.steps),
                    "subscribers": dict(self.subscribers)}
        with open(STEPS_OUT, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1)


COLLECTOR = Collector(PROFILE)


@events.test_start.add_listener
def _on_test_start(**_: Any) -> None:
    COLLECTOR.started = time.monotonic()


@events.request.add_listener
def _on_request(request_type: str, name: str, response_time: float,
                exception: BaseException | None = None, **kwargs: Any) -> None:
    COLLECTOR.on_request(request_type, name, response_time, exception)


@events.test_stop.add_listener
def _on_test_stop(**_: Any) -> None:
    COLLECTOR.stopped = time.monotonic()
    COLLECTOR.write()


@events.quitting.add_listener
def _on_quitting(**_: Any) -> None:
    COLLECTOR.write()


class StepShape(LoadTestShape):
    """The warm-up, then each step's trader users, plus the subscribers throughout; stops after the
    last step, or earlier when the profile says the ramp has failed enough steps in a row."""

    def tick(self) -> tuple[int, float] | None:
        run_time = self.get_run_time()
        if run_time < PROFILE.warmup_s:  # the first step's users, unmeasured
            return PROFILE.users(PROFILE.steps[0]) + PROFILE.subscribers, SPAWN_RATE
        index = PROFILE.step_at(run_time - PROFILE.warmup_s)
        if index >= len(PROFILE.steps):
            return None
        if index > 0 and PROFILE.stop_after_failed and profiles.should_stop(
                PROFILE, COLLECTOR.finished_results(index)):
            return None
        return PROFILE.users(PROFILE.steps[index]) + PROFILE.subscribers, SPAWN_RATE


_user_numbers = itertools.count()


def _identity() -> tuple[int, str, str]:
    number = next(_user_numbers)
    token = TOKENS[number % len(TOKENS)] if TOKENS else ""
    host = HOSTS[number % len(HOSTS)] if HOSTS else ""
    return number, token, host


# ------------------------------------------------------------------------------ traders
class TraderUser(FastHttpUser):
    wait_time = constant_throughput(PROFILE.per_user_rate)
    connection_timeout = 10.0
    network_timeout = 30.0

    def on_start(self) -> None:
        self.number, token, host = _identity()
        self.base = (host or self.host or "").rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"}
        self.rng = random.Random(self.number)
        self.open_ids: deque[str] = deque(maxlen=64)  # own orders that may be resting
        self.sent: deque[tuple[dict[str, Any], str]] = deque(maxlen=16)  # (body, orderId)

    # -- helpers
    def _order(self, side: str, ticks: int, qty: int, tif: str = "GTC",
               post_only: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {"symbol": self.rng.choice(SYMBOLS), "side": side, "qty": qty,
                                "price": price(ticks), "timeInForce": tif,
                                "idempotencyKey": uuid.uuid4().hex}
        if post_only:
            body["postOnly"] = True
        return body

    def _post(self, path: str, body: Any, name: str, expect: tuple[int, ...],
              check: Any = None, content_type: str | None = None) -> dict[str, Any] | None:
        headers = dict(self.headers)
        kwargs: dict[str, Any] = {"json": body}
        if content_type is not None:
            headers["Content-Type"] = content_type
            kwargs = {"data": json.dumps(body)}
        with self.client.post(self.base + path, headers=headers, name=name, catch_response=True,
                              **kwargs) as response:
            if response.status_code not in expect:
                response.failure(UnexpectedAnswer(
                    f"{response.status_code} (expected {'/'.join(map(str, expect))}): "
                    f"{(response.text or '')[:160]}"))
                return None
            try:
                answer: dict[str, Any] = response.json()
            except ValueError:
                response.failure(UnexpectedAnswer(f"{response.status_code}: not JSON"))
                return None
            problem = check(response.status_code, answer) if check else None
            if problem:
                response.failure(UnexpectedAnswer(problem))
                return None
            response.success()
            return answer

    def _submit(self, body: dict[str, Any], name: str, rests: bool) -> None:
        answer = self._post("/order", body, name, (201,))
        if answer is not None:
            self.sent.append((body, str(answer.get("orderId"))))
            if rests:
                self.open_ids.append(str(answer.get("orderId")))

    # -- the mix
    @task(MIX["passive"])
    def passive_add(self) -> None:
        side = self.rng.choice(("BUY", "SELL"))
        away = self.rng.randint(1, 40)
        ticks = MID_TICKS - away if side == "BUY" else MID_TICKS + away
        self._submit(self._order(side, ticks, self.rng.randint(1, 10)),
                     ACCEPT_PREFIX + "passive GTC", rests=True)

    def _cross(self, tif: str) -> None:
        side = self.rng.choice(("BUY", "SELL"))
        reach = self.rng.randint(5, 50)  # crosses the other side's levels up to `reach` ticks
        ticks = MID_TICKS + reach if side == "BUY" else MID_TICKS - reach
        self._submit(self._order(side, ticks, self.rng.randint(1, 8), tif),
                     ACCEPT_PREFIX + f"crossing {tif}", rests=tif == "GTC")

    @task(MIX["cross_gtc"])
    def cross_gtc(self) -> None:
        self._cross("GTC")

    @task(MIX["cross_ioc"])
    def cross_ioc(self) -> None:
        self._cross("IOC")

    @task(MIX["cross_fok"])
    def cross_fok(self) -> None:
        self._cross("FOK")

    @task(MIX["post_only"])
    def post_only(self) -> None:
        # Mostly rests; now and then at or through the touch, where the matcher refuses it.
        side = self.rng.choice(("BUY", "SELL"))
        away = self.rng.randint(-2, 20)
        ticks = MID_TICKS - away if side == "BUY" else MID_TICKS + away
        self._submit(self._order(side, ticks, self.rng.randint(1, 10), post_only=True),
                     ACCEPT_PREFIX + "post-only", rests=True)

    @task(MIX["cancel"])
    def cancel(self) -> None:
        if not self.open_ids:
            self.passive_add()
            return
        order_id = self.open_ids.popleft()

        def filled_is_fine(status: int, answer: dict[str, Any]) -> str | None:
            if status == 404 and answer.get("error", {}).get("code") != "not_open":
                return f"404 {answer.get('error', {}).get('code')} for our own order"
            return None

        self._post("/cancel", {"orderId": order_id}, "POST /cancel", (200, 404),
                   check=filled_is_fine)

    @task(MIX["retry"])
    def retry(self) -> None:
        """A client that lost the answer sends the same order with the same key again: 200 and
        the original orderId, never a second order."""
        if not self.sent:
            self.passive_add()
            return
        body, order_id = self.rng.choice(list(self.sent))

        def same_order(status: int, answer: dict[str, Any]) -> str | None:
            if answer.get("orderId") != order_id:
                return f"replay answered orderId {answer.get('orderId')}, not {order_id}"
            return None

        self._post("/order", body, ACCEPT_PREFIX + "retry (same key)", (200,), check=same_order)

    @task(MIX["bad"])
    def bad_request(self) -> None:
        """Requests the API must refuse with their documented 4xx (docs/api.md)."""
        kind = self.rng.randrange(4)
        body = self._order("BUY", MID_TICKS - 100, 1)
        if kind == 0:
            body["price"] = "100.001"  # not a multiple of the tick: 400
            self._post("/order", body, BAD_NAME, (400,))
        elif kind == 1 and self.sent:
            used, _order_id = self.sent[-1]  # same key, different order: 409
            self._post("/order", dict(used, qty=int(used["qty"]) + 1), BAD_NAME, (409,))
        elif kind == 2:
            body["colour"] = "red"  # unknown field: 400
            self._post("/order", body, BAD_NAME, (400,))
        else:
            self._post("/order", body, BAD_NAME, (415,), content_type="text/plain")


# ------------------------------------------------------------------------------ subscribers
class SubscriberUser(User):
    fixed_count = PROFILE.subscribers
    wait_time = constant(0)
    RECV_TIMEOUT_S = 1.0

    def on_start(self) -> None:
        self.number, self.token, host = _identity()
        base = (host or self.host or "").rstrip("/")
        self.url = base.replace("https://", "wss://").replace("http://", "ws://") + "/ws"
        self.topics = [f"{kind}:{symbol}" for symbol in SYMBOLS for kind in ("trades", "book")]
        self.ws: websocket.WebSocket | None = None
        self.last: dict[str, int] = {}
        self._connect()

    def on_stop(self) -> None:
        if self.ws is not None:
            self.ws.close()
            self.ws = None

    def _connect(self) -> None:
        self.last = {}  # a new session starts a new chain at its `subscribed`/`snapshot` seqs
        self.ws = websocket.create_connection(f"{self.url}?token={self.token}",
                                              timeout=self.RECV_TIMEOUT_S)
        self.ws.send(json.dumps({"op": "subscribe", "topics": self.topics}))
        COLLECTOR.count("connects")

    def _fire(self, name: str, response_time: float, length: int,
              exception: Exception | None = None) -> None:
        self.environment.events.request.fire(
            request_type="WS", name=name, response_time=response_time, response_length=length,
            exception=exception, context={})

    @task
    def listen(self) -> None:
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            if self.ws is None:
                self._connect()
            assert self.ws is not None
            try:
                raw = self.ws.recv()
            except websocket.WebSocketTimeoutException:
                continue
            except (websocket.WebSocketException, OSError):
                raw = ""
            if not raw:
                COLLECTOR.count("disconnects")
                self.ws = None
                continue
            received = time.time()
            self._handle(json.loads(raw), received, len(raw))

    def _chain(self, topic: str, seq: int, prev: Any) -> None:
        last = self.last.get(topic)
        if last is not None and prev != last:
            COLLECTOR.count("gaps")
            self._fire("seq/prevSeq continuity", 0, 0,
                       ContinuityError(f"{topic}: prevSeq {prev} after seq {last}"))
        self.last[topic] = seq

    def _handle(self, message: dict[str, Any], received: float, length: int) -> None:
        kind = message.get("type")
        topic = message.get("topic")
        COLLECTOR.ws_message(str(kind))
        if kind in ("subscribed", "snapshot") and isinstance(message.get("seq"), int):
            self.last[str(topic)] = int(message["seq"])
        elif kind in ("trade", "book"):
            self._chain(str(topic), int(message["seq"]), message.get("prevSeq"))
            if kind == "trade" and message.get("ts"):
                stamped = datetime.fromisoformat(str(message["ts"])).timestamp()
                self._fire("trade: commit -> client", max(0.0, (received - stamped) * 1000),
                           length)
        elif kind == "heartbeat":
            for name, seq in (message.get("seqs") or {}).items():
                if seq is not None and name in self.last and seq != self.last[name]:
                    COLLECTOR.count("gaps")
                    self._fire("seq/prevSeq continuity", 0, 0, ContinuityError(
                        f"{name}: heartbeat says seq {seq}, last received {self.last[name]}"))
                    self.last[name] = int(seq)
        elif kind == "error":
            self._fire("stream error", 0, length,
                       UnexpectedAnswer(f"{message.get('code')}: {message.get('message')}"))
