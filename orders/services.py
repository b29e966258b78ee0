"""Order-entry writes: submit (durable before ack, idempotent) and cancel (conditional, retry-safe),
and the sweeper that closes the crash window between the DynamoDB commit and the SQS send."""

from __future__ import annotations

import logging
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from matching.engine.units import from_ticks
from orders import selectors, storage
from orders.domain import idempotency_hash, validate_order
from orders.recent_keys import RecentKeys
from tulip import events_queue, flags, logs, regions, wire
from tulip.clock import iso_ago, now_iso
from tulip.config import Config
from tulip.errors import Forbidden, IdempotencyConflict, NotOpen, Unavailable, ValidationFailed
from tulip.schema import (
    ACCEPTED,
    ACCEPTED_SORT_PREFIX,
    CANCELLED,
    DEFAULT_SELF_TRADE_PREVENTION,
    FILLED,
    IDEMPOTENCY_TTL_S,
    IdempotencyItem,
    OrderItem,
    accepted_sort_key,
)

log = logging.getLogger("orders.services")

SWEEP_MIN_AGE_S = 5.0  # an ACCEPTED order younger than this may still be on its way to SQS
SWEEP_BATCH = 200  # orders re-sent per symbol per sweep: bounded work per beat
SYNC_REPLICATION_WAIT_S = 3.0  # REPLICATION=sync: how long an accept waits for another region
SYNC_REPLICATION_POLL_S = 0.005
_recent_keys = RecentKeys()  # keys this process accepted or answered: retries read first
ORDER_ID_RE = re.compile(r"^[A-Za-z0-9]{1,64}$")  # ASCII only: str.isalnum() also takes "²" or "٣"


@dataclass(frozen=True, slots=True)
class SubmitResult:
    order: OrderItem
    created: bool  # True: 201 (new); False: 200 (identical replay)


@dataclass(frozen=True, slots=True)
class WriteRoute:
    """Where a write goes (docs/architecture.md, "Regions"): here, or to the leader's URL."""

    local: bool
    leader_region: str
    leader_url: str | None = None


def _refuse_denied(cfg: Config) -> None:
    if flags.current_flags(cfg).deny_writes:
        raise Unavailable("Writes are disabled (denyWrites); retry later with the same key.")


def write_route(cfg: Config) -> WriteRoute:
    """Runtime flags and the leadership (each cached <= 1 s): ops can stop writers or move the
    leadership without restarting anything (docs/runbooks)."""
    _refuse_denied(cfg)
    leadership = regions.current(cfg)
    if leadership.leads:
        return WriteRoute(True, leadership.leader_region)
    if leadership.leader_region == cfg.aws_region:  # this leader stepped down (isolated)
        raise Unavailable("This region cannot see the others and stopped taking writes; "
                          "retry with the same key.", {"leaderRegion": cfg.aws_region})
    return WriteRoute(False, leadership.leader_region,
                      cfg.region_urls.get(leadership.leader_region))


def accepts_provisional(cfg: Config) -> bool:
    """The acceptWhenLeaderDown flag: a follower that cannot reach the leader takes the order
    itself, flagged provisional (reconciled once the regions see each other again), once its
    monitor too has seen the leader down (tulip.regions.leader_down); before that a failed
    forward is a 503 to retry."""
    return flags.current_flags(cfg).accept_when_leader_down and regions.leader_down(cfg)


def submit_order(cfg: Config, client_id: str, body: Any, header_key: str | None,
                 provisional: bool = False) -> SubmitResult:
    """Accept an order in this region: the leader's normal path, or a follower's provisional
    one (the caller decided: the leader is unreachable and the flag allows it)."""
    _refuse_denied(cfg)
    request, errors, forbidden = validate_order(body, header_key, cfg.symbols, client_id)
    if forbidden:
        raise Forbidden("clientId in the body does not match the token's subject.")
    if request is None:
        raise ValidationFailed("The order is not valid.", errors)

    ik = idempotency_hash(client_id, request.idempotency_key)
    fingerprint = request.fingerprint()
    if ik in _recent_keys:  # a retry of a key this process knows: read before writing
        replay = _answer_replay(cfg, ik, fingerprint)
        if replay is not None:
            return replay
    # Optimistic: write first, read the idempotency record only when the write finds it there.
    # A new order (the common case) then costs one transaction and one send, not a read as well;
    # a replay of a key this process does not know costs a cancelled transaction (it writes
    # nothing) and the reads it always needed.
    now = now_iso()
    order_id = secrets.token_hex(16)  # random ids spread partitions (docs/storage.md)
    logs.bind(orderId=order_id)
    order = OrderItem(
        OrderItem.key(order_id), OrderItem.key(order_id),
        order_id=order_id, client_id=client_id, idempotency_key=ik, symbol=request.symbol,
        side=request.side, qty=request.qty, price_ticks=request.price_ticks,
        time_in_force=request.time_in_force, post_only=request.post_only,
        self_trade_prevention=(None if request.self_trade_prevention == DEFAULT_SELF_TRADE_PREVENTION
                               else request.self_trade_prevention), status=ACCEPTED,
        filled_qty=0, filled_notional=0, created_at=now, accepted_at=now, updated_at=now,
        region=cfg.aws_region, accepted_az=cfg.availability_zone, open_symbol=request.symbol,
        open_sort=accepted_sort_key(now, order_id), provisional=provisional or None,
    )
    record = IdempotencyItem(
        IdempotencyItem.key(ik), IdempotencyItem.key(ik), order_id=order_id,
        client_id=client_id, fingerprint=fingerprint, created_at=now,
        expires_at=int(time.time()) + IDEMPOTENCY_TTL_S,
    )
    try:
        storage.put_order_with_idempotency(order, record)
    except storage.AlreadyExists:
        # The key was used before (a retry, or a concurrent identical submit that won the race).
        replay = _answer_replay(cfg, ik, fingerprint)
        if replay is None:  # the winner's record must be readable now (strongly consistent)
            raise Unavailable("Concurrent submit in progress; retry with the same key.") from None
        return replay
    _recent_keys.add(ik)
    # Durable now; only from here on may anyone be told (docs/rules.md, durable before acknowledged).
    if _needs_replica(cfg, order):
        _await_replica(cfg, order_id)
    events_queue.send(cfg, accepted_message(order))
    log.info("order accepted", extra={"symbol": request.symbol})
    return SubmitResult(order, created=True)


def _needs_replica(cfg: Config, order: OrderItem) -> bool:
    """Sync replication confirms this region's own orders; a provisional one is by definition
    taken without the others, and one another region accepted is held there already."""
    return (cfg.replication == "sync" and not order.provisional
            and order.region == cfg.aws_region)


def _await_replica(cfg: Config, order_id: str) -> None:
    """REPLICATION=sync, the analogue of multi-region strong consistency: acknowledged only once
    another region holds the order. If none does in time, the order stays accepted here (it is
    durable and will be matched) and the caller retries with the same key."""
    if not cfg.peer_regions:
        return
    deadline = time.monotonic() + SYNC_REPLICATION_WAIT_S
    while time.monotonic() < deadline:
        if any(storage.held_by_region(cfg, region, order_id) for region in cfg.peer_regions):
            return
        time.sleep(SYNC_REPLICATION_POLL_S)
    raise Unavailable("Accepted here but no other region confirmed it in time; retry with the "
                      "same key.", {"orderId": order_id})


def _answer_replay(cfg: Config, ik: str, fingerprint: str) -> SubmitResult | None:
    """The original order when the key's record exists (None when it does not)."""
    replay = _replay(ik, fingerprint)
    if replay is None:
        return None
    _recent_keys.add(ik)
    if _needs_replica(cfg, replay.order):
        # A retry is an acknowledgement too: under sync it waits like the first answer did,
        # or a region cut off from every other one would confirm what only it holds.
        _await_replica(cfg, replay.order.order_id)
    return replay


def _replay(ik: str, fingerprint: str) -> SubmitResult | None:
    record = storage.get_idempotency(ik)
    if record is None:
        return None
    logs.bind(orderId=record.order_id)
    if record.fingerprint != fingerprint:
        raise IdempotencyConflict(
            "This idempotency key was already used for a different order.",
            {"orderId": record.order_id})
    order = storage.get_order(record.order_id)
    if order is None:  # both were written in one transaction; this cannot be, so say so loudly
        log.error("idempotency record without its order", extra={"orderId": record.order_id})
        raise Unavailable("The original order could not be read; retry shortly.")
    return SubmitResult(order, created=False)


def accepted_message(order: OrderItem) -> wire.OrderAccepted:
    return wire.OrderAccepted(
        orderId=order.order_id, clientId=order.client_id, symbol=order.symbol, side=order.side,
        qty=int(order.qty), price=from_ticks(int(order.price_ticks)),
        timeInForce=order.time_in_force, postOnly=bool(order.post_only),
        idempotencyKey=order.idempotency_key, acceptedAt=order.accepted_at)


def cancel_order(cfg: Config, client_id: str, body: Any) -> OrderItem:
    """A user cancel in this region (the caller routed it here: write_route)."""
    _refuse_denied(cfg)
    if not isinstance(body, dict):
        raise ValidationFailed("The body must be a JSON object.", {"body": ["must be an object"]})
    unknown = sorted(set(body) - {"orderId", "clientId"})
    order_id = body.get("orderId")
    errors: dict[str, list[str]] = {name: ["unknown field"] for name in unknown}
    if order_id is None:
        errors["orderId"] = ["is required: the id returned by POST /order"]
    elif not isinstance(order_id, str) or not ORDER_ID_RE.match(order_id):
        errors["orderId"] = ["must be 1-64 letters and digits (the id returned by POST /order)"]
    if "clientId" in body and body["clientId"] != client_id:
        raise Forbidden("clientId in the body does not match the token's subject.")
    if errors:
        raise ValidationFailed("The cancel request is not valid.", errors)
    assert isinstance(order_id, str)
    logs.bind(orderId=order_id)

    try:
        order = storage.cancel_if_open(order_id, client_id, now_iso(), cfg.aws_region)
    except storage.CancelContended:
        raise Unavailable("The order kept changing under the cancel; retry.",
                          {"orderId": order_id}) from None
    if order is None or order.client_id != client_id:
        raise selectors.no_such_order(cfg, order_id)
    if order.status == FILLED:
        raise NotOpen("The order is already FILLED.", {"orderId": order_id, "status": FILLED})
    if order.status != CANCELLED:  # a state we do not know how to cancel from
        raise NotOpen("The order is not open.", {"orderId": order_id, "status": order.status})
    # Every successful answer (first or retried) re-sends: a send lost after the first commit is
    # repaired by the client's retry, and SQS dedupe collapses the copies.
    events_queue.send(cfg, wire.CancelRequested(orderId=order_id, clientId=client_id,
                                                symbol=order.symbol, requestedAt=now_iso()))
    return order


def sweep_accepted(cfg: Config, min_age_s: float = SWEEP_MIN_AGE_S,
                   resend_every_s: float = 60.0) -> int:
    """Re-enqueue ACCEPTED orders the matcher has not picked up (crash between commit and send).
    Idempotent: SQS dedupes on the IK, the matcher dedupes by order id and state. Each order is
    claimed with a conditional write so that concurrent sweepers do not both send it."""
    if not regions.current(cfg).leads:
        return 0  # only the leader's queues are consumed: a follower's sweeper has nothing to do
    cutoff = iso_ago(min_age_s)
    resend_before = iso_ago(resend_every_s)
    sent = 0
    for symbol in cfg.symbols:
        accepted = storage.open_orders(symbol, ACCEPTED_SORT_PREFIX,
                                       f"{ACCEPTED_SORT_PREFIX}{cutoff}")
        for index, order in enumerate(accepted):
            if index >= SWEEP_BATCH:
                break
            if order.status != ACCEPTED:
                continue
            if order.swept_at is not None and order.swept_at > resend_before:
                continue
            if storage.mark_swept(order.order_id, now_iso()) and events_queue.send(
                    cfg, accepted_message(order)):
                sent += 1
    if sent:
        log.warning("sweeper re-sent accepted orders", extra={"count": sent})
    return sent
