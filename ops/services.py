"""Ops writes: reconciliation runs (and their --fix), the stream projection, finding reviews.

DynamoDB is reached only through ops.storage; Django's database holds what ops records."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from ops import checks
from ops.checks import FindingData, Snapshot
from ops.ledger import take_snapshot
from ops.models import (
    Finding,
    MetricSample,
    ProjectedOrder,
    ProjectedTrade,
    ReconciliationRun,
    StreamCheckpoint,
    pad_seq,
)
from ops.storage import (
    AppendConflict,
    AppendPlan,
    CompensatingCancel,
    OpsStorage,
    StreamReader,
    StreamRecord,
)
from realtime import publisher
from tulip import events_queue, metrics, regions, wire
from tulip.clock import iso, now_iso
from tulip.config import Config
from tulip.schema import (
    ACCEPTED,
    OPEN_STATES,
    OrderItem,
    ShardItem,
    TradeItem,
    epoch_term,
    model_for_key,
)

log = logging.getLogger("ops.services")

DEFAULT_UNSEEN_AGE_S = 60.0  # well past the sweeper's re-send (SWEEPER_MIN_AGE_S, 5 s)
DEFAULT_PROJECTION_LAG_S = 30.0  # the projector polls every second; 30 s is a stuck projector
FIX_ATTEMPTS = 10  # each re-reads and appends at once; a conflict is a matcher commit between
NOT_LEADER_ACTION = "not written: this region does not lead (or not yet); run it in the leader region"
FIXABLE = (checks.DOUBLE_FILL, checks.FILLED_QTY_MISMATCH, checks.DUPLICATE_IDEMPOTENCY,
           checks.SEQ_GAP, checks.ACCEPTED_UNSEEN, checks.TRADE_WITHOUT_EVENT,
           checks.PROJECTION_MISMATCH, checks.DIVERGENT_COMMIT, checks.CANCEL_OVERTAKEN)


@dataclass
class CheckResult:
    symbols: tuple[str, ...]
    findings: list[FindingData]
    resolved: list[FindingData]
    snapshot: Snapshot
    notes: list[str] = field(default_factory=list)


def run_checks(cfg: Config, symbols: Iterable[str] | None = None, since: str | None = None,
               unseen_age_s: float = DEFAULT_UNSEEN_AGE_S, with_projection: bool = True,
               projection_lag_s: float = DEFAULT_PROJECTION_LAG_S) -> CheckResult:
    """Every check against DynamoDB (plus, with Django's database, the projection's agreement)."""
    snapshot = take_snapshot(cfg, symbols, since, unseen_age_s)
    findings, resolved = checks.check(snapshot, unseen_age_s)
    notes: list[str] = []
    if with_projection:
        if StreamCheckpoint.objects.exists():
            findings += projection_findings(snapshot, projection_lag_s)
        else:
            notes.append("projection check skipped: the projector has never run against this "
                         "database (start `manage.py project_streams`)")
    return CheckResult(tuple(snapshot.symbols), findings, resolved, snapshot, notes)


def projection_findings(snapshot: Snapshot, lag_s: float) -> list[FindingData]:
    """The projection agrees with DynamoDB for every item older than the allowed lag."""
    horizon = iso(datetime.now(UTC) - timedelta(seconds=lag_s))
    ids = [o.order_id for o in snapshot.orders]
    rows = {r.order_id: r for r in ProjectedOrder.objects.filter(order_id__in=ids)}
    findings: list[FindingData] = []
    for order in snapshot.orders:
        if order.updated_at > horizon:
            continue  # still within the projector's allowed lag
        row = rows.get(order.order_id)
        actual = "missing" if row is None else f"{row.status} filledQty {row.filled_qty}"
        expected = f"{order.status} filledQty {order.filled_qty}"
        if row is None or row.status != order.status or row.filled_qty != order.filled_qty:
            findings.append(FindingData(
                checks.PROJECTION_MISMATCH,
                f"{checks.PROJECTION_MISMATCH}:order:{order.order_id}:{order.updated_at}",
                order.symbol, expected=expected, actual=actual, order_ids=(order.order_id,)))
    for symbol_snapshot in snapshot.symbols.values():
        trade_ids = [t.trade_id for t in symbol_snapshot.trades]
        have = set(ProjectedTrade.objects.filter(trade_id__in=trade_ids)
                   .values_list("trade_id", flat=True))
        for trade in symbol_snapshot.trades:
            if trade.trade_id not in have and trade.ts <= horizon:
                findings.append(FindingData(
                    checks.PROJECTION_MISMATCH, f"{checks.PROJECTION_MISMATCH}:trade:{trade.trade_id}",
                    trade.symbol, expected="trade projected", actual="missing",
                    trade_ids=(trade.trade_id,)))
    return findings


# ---------------------------------------------------------------------- reconcile
def reconcile(cfg: Config, symbols: Iterable[str] | None = None, since: str | None = None,
              fix: bool = False, unseen_age_s: float = DEFAULT_UNSEEN_AGE_S,
              projection_lag_s: float = DEFAULT_PROJECTION_LAG_S,
              triggered_by: str = "") -> tuple[ReconciliationRun, CheckResult]:
    wanted = tuple(symbols) if symbols else ()
    run = ReconciliationRun.objects.create(symbols=",".join(wanted) or "*", since=since or "",
                                           fix=fix, triggered_by=triggered_by)
    try:
        result = run_checks(cfg, wanted, since, unseen_age_s, True, projection_lag_s)
        rows = {f.key: Finding.objects.create(
            run=run, kind=f.kind, key=f.key[:200], symbol=f.symbol, order_ids=list(f.order_ids),
            trade_ids=list(f.trade_ids), expected=f.expected[:200], actual=f.actual[:200],
            detail=f.detail[:300]) for f in result.findings}
        actions: list[dict[str, Any]] = []
        if fix:
            store = OpsStorage(cfg)
            for finding in result.findings:
                outcome = fix_finding(cfg, store, finding, run.pk)
                actions.append(outcome)
                row = rows[finding.key]
                row.fix_action = str(outcome["action"])[:300]
                row.fix_seq = outcome.get("seq")
                if outcome["ok"]:
                    row.review_state = Finding.FIXED
                    row.reviewed_by = "reconcile --fix"
                    row.reviewed_at = timezone.now()
                row.save()
        doubles = sum(1 for f in result.findings if f.kind == checks.DOUBLE_FILL)
        metrics.record_reconcile(doubles, len(result.findings))
        run.finding_count = len(result.findings)
        run.resolved_count = len(result.resolved)
        run.summary = {"counts": checks.summarize(result.findings), "notes": result.notes,
                       "symbols": list(result.symbols),
                       "resolvedBefore": [f.key for f in result.resolved][:200]}
        run.actions = actions
        run.status = "findings" if result.findings else "clean"
        return run, result
    except Exception:
        run.status = "error"
        raise
    finally:
        run.finished_at = timezone.now()
        run.save()


def fix_finding(cfg: Config, store: OpsStorage, finding: FindingData, run_id: int) -> dict[str, Any]:
    """Compensate one finding: a Reconciled event carrying its key (+ compensating cancels where
    the order is still open), appended with the matcher's fencing. Never deletes or rewrites."""
    if finding.kind == checks.PROJECTION_MISMATCH:
        return reproject(cfg, store, finding)
    if finding.kind not in FIXABLE:
        return {"key": finding.key, "ok": False, "action": "no automatic fix; needs review"}
    if not _writes_here(cfg, store.shard(finding.symbol)):
        return {"key": finding.key, "ok": False, "action": NOT_LEADER_ACTION}
    for attempt in range(1, FIX_ATTEMPTS + 1):
        cancels = _compensations(store, finding)
        # The shard is read again just before the append fenced on it: a busy matcher advances
        # it every few hundred milliseconds, and a read made before the orders' reads left them
        # in the window (under load every attempt conflicted: the region chaos run at size).
        shard = store.shard(finding.symbol)
        if not _writes_here(cfg, shard):
            return {"key": finding.key, "ok": False, "action": NOT_LEADER_ACTION}
        if finding.kind == checks.ACCEPTED_UNSEEN and not cancels:
            return {"key": finding.key, "ok": True, "action": "already seen by the matcher"}
        payload = {"findingKey": finding.key, "kind": finding.kind, "runId": run_id,
                   "expected": finding.expected, "actual": finding.actual,
                   "orderIds": list(finding.order_ids), "tradeIds": list(finding.trade_ids),
                   "reason": "reconciled"}
        plan = AppendPlan(finding.symbol, shard, now_iso(), [(payload, cancels)])
        try:
            seq = store.append(plan)
        except AppendConflict as exc:
            log.warning("reconciled append cancelled; re-reading",
                        extra={"key": finding.key, "reasons": exc.reasons, "attempt": attempt})
            continue
        _notify_matcher(cfg, store, [c.order_id for c in cancels])
        if not cancels:  # a cancel reaches the book through the matcher, which republishes it
            publisher.advance_book_seq(cfg, finding.symbol, seq - 1, seq)
        cancelled = ", ".join(c.order_id for c in cancels)
        action = f"Reconciled seq {seq}" + (f"; cancelled {cancelled}" if cancels else "")
        return {"key": finding.key, "ok": True, "action": action, "seq": seq,
                "cancelled": [c.order_id for c in cancels]}
    return {"key": finding.key, "ok": False,
            "action": f"append kept conflicting after {FIX_ATTEMPTS} attempts; run again"}


def _writes_here(cfg: Config, shard: ShardItem | None) -> bool:
    """A fix appends under the shard's epoch, fenced by it: only in the region that leads, and
    only while that epoch is one of this leadership's (its matchers took the shard under this
    term). A region that lost the lead, or whose replica holds another region's newer epoch,
    would otherwise write a seq that region writes too (simulation seed 1202: a fix begun in a
    region that a failover had just deposed)."""
    if not cfg.peer_regions:
        return True
    leadership = regions.read(cfg)
    return leadership.leads and (shard is None or not shard.epoch
                                 or epoch_term(shard.epoch) == leadership.term)


def _compensations(store: OpsStorage, finding: FindingData) -> list[CompensatingCancel]:
    """Which orders to cancel for this finding: only ones still open, at the state read now."""
    if finding.kind in (checks.DOUBLE_FILL, checks.FILLED_QTY_MISMATCH, checks.ACCEPTED_UNSEEN):
        targets = finding.order_ids[:1]
    elif finding.kind == checks.DUPLICATE_IDEMPOTENCY:
        targets = finding.order_ids[1:]  # the duplicate; the first id is the order kept
    elif finding.kind == checks.CANCEL_OVERTAKEN:
        targets = finding.order_ids  # cancelled now, as its owner was told it was
    elif finding.kind == checks.DIVERGENT_COMMIT:
        # Every order a divergent trade touched: the trader was told of fills the canonical
        # history does not have; one still open is cancelled, so it decides again.
        targets = finding.order_ids
    else:
        return []
    cancels: list[CompensatingCancel] = []
    for order_id in targets:
        order = store.order(order_id)
        if order is None or order.status not in OPEN_STATES or order.symbol != finding.symbol:
            continue
        if finding.kind == checks.ACCEPTED_UNSEEN and order.status != ACCEPTED:
            continue
        cancels.append(CompensatingCancel(order.order_id, order.status, order.filled_qty))
    return cancels


def _notify_matcher(cfg: Config, store: OpsStorage, order_ids: list[str]) -> None:
    """Best effort, after the commit: a CancelRequested so the matcher's in-memory book drops the
    order now (it would anyway, when its next conditional update on it fails)."""
    if not order_ids or not cfg.events_fifo_url:  # no queue configured (a bare reconcile)
        return
    for order_id in order_ids:
        order = store.order(order_id)
        if order is not None and order.symbol in cfg.symbols:
            events_queue.send(cfg, wire.CancelRequested(
                orderId=order_id, clientId=order.client_id, symbol=order.symbol,
                requestedAt=now_iso()))


def reproject(cfg: Config, store: OpsStorage, finding: FindingData) -> dict[str, Any]:
    """The projection is derived data: re-read the item from DynamoDB and overwrite the row."""
    done: list[str] = []
    for order_id in finding.order_ids:
        order = store.order(order_id)
        if order is not None:
            _overwrite(ProjectedOrder, order_id, _order_columns(order))
            done.append(order_id)
    for trade_id in finding.trade_ids:
        trade = store.trade(trade_id)
        if trade is not None:
            _overwrite(ProjectedTrade, trade_id, _trade_columns(trade))
            done.append(trade_id)
    return {"key": finding.key, "ok": bool(done),
            "action": f"re-projected {', '.join(done)} from DynamoDB" if done else "item gone"}


# ---------------------------------------------------------------------- review workflow
def review(finding: Finding, state: str, user: str, note: str | None = None) -> Finding:
    if state not in dict(Finding.REVIEW_STATES):
        raise ValueError(f"unknown review state {state!r}")
    if state != finding.review_state:  # a changed outcome needs signing off again
        finding.signed_off_by, finding.signed_off_at, finding.sign_off_note = "", None, ""
    finding.review_state = state
    finding.reviewed_by = user[:150]
    finding.reviewed_at = timezone.now()
    if note:
        finding.note = (finding.note + "\n" if finding.note else "") + note
    finding.save()
    return finding


SIGNABLE = (Finding.FIXED, Finding.WONT_FIX)


class SignOffRefused(ValueError):
    """The finding cannot be signed off as asked (one line, shown to the reviewer)."""


def sign_off(finding: Finding, user: str, note: str) -> Finding:
    """The second pair of eyes: a finding whose review reached an outcome (fixed, or won't fix)
    is signed off by someone other than its reviewer, with a reason. `reconcile --fix` counts as
    the reviewer of what it fixed, so any staff user may sign those."""
    if finding.review_state not in SIGNABLE:
        raise SignOffRefused("Review it first: only a fixed or won't-fix finding can be signed off.")
    if finding.signed_off_at is not None:
        raise SignOffRefused(f"Already signed off by {finding.signed_off_by}.")
    if not note.strip():
        raise SignOffRefused("Say why: a sign-off needs a note.")
    if finding.reviewed_by and finding.reviewed_by == user:
        raise SignOffRefused("The reviewer cannot sign off their own review.")
    finding.signed_off_by = user[:150]
    finding.signed_off_at = timezone.now()
    finding.sign_off_note = note.strip()[:2000]
    finding.save()
    return finding


# ---------------------------------------------------------------------- projection
def _newer(row_seq: str, record_seq: str | None) -> bool:
    return record_seq is None or not row_seq or pad_seq(record_seq) > row_seq


def _order_columns(order: OrderItem) -> dict[str, Any]:
    """An order item as ProjectedOrder columns."""
    return {
        "symbol": order.symbol, "client_id": order.client_id, "side": order.side,
        "qty": order.qty, "price_ticks": order.price_ticks,
        "time_in_force": order.time_in_force or "", "status": order.status,
        "filled_qty": order.filled_qty or 0, "cancel_reason": order.cancel_reason or "",
        "idempotency_key": order.idempotency_key, "region": order.region or "",
        "seq": order.seq, "created_at": order.created_at or "",
        "updated_at": order.updated_at or ""}


def _trade_columns(trade: TradeItem) -> dict[str, Any]:
    """A trade item as ProjectedTrade columns."""
    return {
        "symbol": trade.symbol, "seq": trade.seq, "qty": trade.qty,
        "price_ticks": trade.price_ticks, "taker_side": trade.taker_side,
        "buy_order_id": trade.buy_order_id, "sell_order_id": trade.sell_order_id,
        "buy_client_id": trade.buy_client_id, "sell_client_id": trade.sell_client_id,
        "ts": trade.ts}


ProjectedModel = type[ProjectedOrder] | type[ProjectedTrade]
_Row = TypeVar("_Row", bound=Model)


def _overwrite(model: ProjectedModel, key: str, columns: dict[str, Any]) -> None:
    """Overwrite a row from a DynamoDB item (re-projection after a finding); its stream position
    is left as it was."""
    model.objects.update_or_create(pk=key, defaults=columns)


def _projected(record: StreamRecord) -> tuple[ProjectedModel, str, dict[str, Any]] | None:
    """Order items to ProjectedOrder, trade items to ProjectedTrade; event pages, shard items and
    idempotency records are not browsed in the admin. REMOVE never happens to these items
    (history is kept); ignored."""
    if record.new_image is None or record.event_name == "REMOVE":
        return None
    model = model_for_key(str(record.keys.get("pk", {}).get("S", "")))
    if model is OrderItem:
        order = OrderItem.from_raw_data(record.new_image)
        return ProjectedOrder, order.order_id, _order_columns(order)
    if model is TradeItem:
        trade = TradeItem.from_raw_data(record.new_image)
        return ProjectedTrade, trade.trade_id, _trade_columns(trade)
    return None


def apply_records(records: Iterable[StreamRecord]) -> int:
    """Apply one shard's batch of records; returns the rows written. Per item only its newest
    record counts (a shard holds an item's records in order, so the last one), and a row already
    at that record or a later one is left alone (replays are no-ops). Per model that is one read
    of the stored positions and one multi-row upsert, instead of three statements per record:
    a busy matcher produces several records per order, and the projector shares the machine."""
    newest: dict[tuple[ProjectedModel, str], tuple[dict[str, Any], str]] = {}
    for record in records:
        projected = _projected(record)
        if projected is not None:
            model, key, values = projected
            newest[(model, key)] = (values, record.sequence_number)
    written = 0
    for model in (ProjectedOrder, ProjectedTrade):
        mine = {key: item for (kind, key), item in newest.items() if kind is model}
        if mine:
            written += _upsert_newer(model, mine)
    return written


def _upsert_newer(model: type[_Row], mine: dict[str, tuple[dict[str, Any], str]]) -> int:
    """apply_records for one model: the rows whose record is newer than the stored one, in one
    multi-row upsert; returns the rows written."""
    pk = model._meta.pk.name
    stored = dict(model._default_manager.filter(pk__in=list(mine)).values_list("pk", "stream_seq"))
    rows = [model(**{pk: key, **values, "stream_seq": pad_seq(seq)})
            for key, (values, seq) in mine.items()
            if key not in stored or _newer(stored[key], seq)]
    if rows:
        columns = [f.name for f in model._meta.concrete_fields if f.name != pk]
        model._default_manager.bulk_create(rows, update_conflicts=True, unique_fields=[pk],
                                           update_fields=columns)
    return len(rows)


@dataclass
class ProjectionPass:
    records: int = 0
    applied: int = 0
    shards: int = 0
    backlog: bool = False  # some shard gave a full batch: more records are waiting


def project_once(cfg: Config, reader: StreamReader | None = None,
                 batch: int = 500) -> ProjectionPass:
    """One pass over every shard of both streams from the stored checkpoints. Each shard's batch
    and its new checkpoint commit in ONE database transaction: killed anywhere, the projector
    resumes after exactly what it applied (and re-applying a record is a no-op anyway)."""
    reader = reader or StreamReader(cfg)
    reader.next_pass()
    result = ProjectionPass()
    for kind, table in (("orders", cfg.orders_table), ("trades", cfg.trades_table)):
        arn, shard_ids = reader.stream_shards(table)
        if not arn:
            continue
        for shard_id in shard_ids:
            result.shards += 1
            checkpoint, _ = StreamCheckpoint.objects.get_or_create(
                stream_arn=arn, shard_id=shard_id, defaults={"table": kind})
            records = reader.read(kind, arn, shard_id, checkpoint.sequence_number or None, batch)
            if not records:
                checkpoint.save(update_fields=["updated_at"])  # heartbeat for the admin
                continue
            with transaction.atomic():
                applied = apply_records(records)
                checkpoint.sequence_number = records[-1].sequence_number
                checkpoint.records_applied += applied
                checkpoint.save()
            result.records += len(records)
            result.applied += applied
            result.backlog = result.backlog or len(records) >= batch
    return result


# ---------------------------------------------------------------------- SLO samples
SAMPLE_RETENTION = timedelta(hours=24)


def record_samples(values: dict[str, float]) -> None:
    """Keep the published SLO values for the admin's panel (last minutes), pruning old rows."""
    now = timezone.now()
    MetricSample.objects.bulk_create(
        [MetricSample(ts=now, name=name, value=value) for name, value in sorted(values.items())])
    MetricSample.objects.filter(ts__lt=now - SAMPLE_RETENTION).delete()
