"""Ops data in Django's database (docs/architecture.md): the read projection of orders/trades, stream
checkpoints, reconciliation runs and findings, SLO samples.
DynamoDB stays the system of record; everything here can be rebuilt from it."""

from __future__ import annotations

from django.db import models

# DynamoDB Streams sequence numbers are decimal strings of up to 40 digits: stored zero-padded so
# string order is numeric order.
SEQ_WIDTH = 40


def pad_seq(sequence_number: str) -> str:
    return sequence_number.zfill(SEQ_WIDTH)


class ProjectedOrder(models.Model):
    order_id = models.CharField(max_length=64, primary_key=True)
    symbol = models.CharField(max_length=12, db_index=True)
    client_id = models.CharField(max_length=128, db_index=True)
    side = models.CharField(max_length=4)
    qty = models.BigIntegerField()
    price_ticks = models.BigIntegerField()
    time_in_force = models.CharField(max_length=4, blank=True)
    status = models.CharField(max_length=20, db_index=True)
    filled_qty = models.BigIntegerField(default=0)
    cancel_reason = models.CharField(max_length=32, blank=True)
    idempotency_key = models.CharField(max_length=64, db_index=True)
    region = models.CharField(max_length=32, blank=True)
    seq = models.BigIntegerField(null=True, blank=True)
    created_at = models.CharField(max_length=32, db_index=True)
    updated_at = models.CharField(max_length=32)
    # The stream record last applied: an older or repeated record is skipped (idempotent upsert).
    stream_seq = models.CharField(max_length=SEQ_WIDTH, default="")
    projected_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.order_id} {self.side} {self.qty} {self.symbol} {self.status}"


class ProjectedTrade(models.Model):
    trade_id = models.CharField(max_length=40, primary_key=True)
    symbol = models.CharField(max_length=12, db_index=True)
    seq = models.BigIntegerField()
    qty = models.BigIntegerField()
    price_ticks = models.BigIntegerField()
    taker_side = models.CharField(max_length=4, blank=True)
    buy_order_id = models.CharField(max_length=64, db_index=True)
    sell_order_id = models.CharField(max_length=64, db_index=True)
    buy_client_id = models.CharField(max_length=128, blank=True)
    sell_client_id = models.CharField(max_length=128, blank=True)
    ts = models.CharField(max_length=32, db_index=True)
    stream_seq = models.CharField(max_length=SEQ_WIDTH, default="")
    projected_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-symbol", "-seq"]

    def __str__(self) -> str:
        return str(self.trade_id)


class StreamCheckpoint(models.Model):
    """Where the projector stands in one stream shard; written in the same DB transaction as the
    rows it applied, so a restart resumes exactly after what is in the projection."""

    table = models.CharField(max_length=16)
    stream_arn = models.CharField(max_length=512)
    shard_id = models.CharField(max_length=256)
    sequence_number = models.CharField(max_length=SEQ_WIDTH, blank=True)
    records_applied = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["stream_arn", "shard_id"],
                                               name="ops_checkpoint_unique_shard")]

    def __str__(self) -> str:
        return f"{self.table} {self.shard_id} @ {self.sequence_number}"


class ReconciliationRun(models.Model):
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    symbols = models.CharField(max_length=512)
    since = models.CharField(max_length=32, blank=True)
    fix = models.BooleanField(default=False)
    status = models.CharField(max_length=16, default="running")  # running|clean|findings|error
    finding_count = models.IntegerField(default=0)
    resolved_count = models.IntegerField(default=0)
    summary = models.JSONField(default=dict)
    actions = models.JSONField(default=list)  # what --fix did (events appended, cancels)
    triggered_by = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.status}, {self.finding_count} findings)"


class Finding(models.Model):
    NEW, ACKNOWLEDGED, FIXED, WONT_FIX = "new", "acknowledged", "fixed", "wont_fix"
    REVIEW_STATES = [(NEW, "new"), (ACKNOWLEDGED, "acknowledged"), (FIXED, "fixed"),
                     (WONT_FIX, "won't fix")]

    run = models.ForeignKey(ReconciliationRun, on_delete=models.CASCADE, related_name="findings")
    kind = models.CharField(max_length=32, db_index=True)
    key = models.CharField(max_length=200, db_index=True)
    symbol = models.CharField(max_length=12)
    order_ids = models.JSONField(default=list)
    trade_ids = models.JSONField(default=list)
    expected = models.CharField(max_length=200)
    actual = models.CharField(max_length=200)
    detail = models.CharField(max_length=300, blank=True)
    review_state = models.CharField(max_length=16, choices=REVIEW_STATES, default=NEW)
    note = models.TextField(blank=True)
    reviewed_by = models.CharField(max_length=150, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    fix_action = models.CharField(max_length=300, blank=True)
    fix_seq = models.BigIntegerField(null=True, blank=True)
    # Sign-off: a second person's confirmation of a reviewed finding's outcome (fixed / won't
    # fix), with its reason; ops/services.py::sign_off. Cleared if the review changes again.
    signed_off_by = models.CharField(max_length=150, blank=True)
    signed_off_at = models.DateTimeField(null=True, blank=True)
    sign_off_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-run_id", "kind", "id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.key}"


class MetricSample(models.Model):
    """The SLO panel's history: one row per metric per publish interval (also sent to CloudWatch)."""

    ts = models.DateTimeField(db_index=True)
    name = models.CharField(max_length=32)
    value = models.FloatField()

    class Meta:
        ordering = ["-ts", "name"]
        verbose_name = "SLO sample"

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


class RegionState(models.Model):
    """No table: the admin's region screen (role, leader, epoch) reads config and SHARD items."""

    class Meta:
        managed = False
        verbose_name = "region state"
        verbose_name_plural = "region state"


class ChaosExperiment(models.Model):
    """One run of the chaos panel (ops/chaos.py), the local stack's analogue of an AWS FIS
    experiment: a fault held for a duration, ended early when a stop condition (an SLO threshold or
    an invariant counter) is breached, always reverted. `timeline` is what happened, in order."""

    STOP_MATCHER, INJECT_LATENCY, DENY_WRITES = "stop_matcher", "inject_latency", "deny_writes"
    PARTITION, FAILOVER = "partition", "failover"
    KINDS = [(STOP_MATCHER, "stop a matcher process"), (INJECT_LATENCY, "inject latency"),
             (DENY_WRITES, "deny writes"), (PARTITION, "partition two regions"),
             (FAILOVER, "fail over to another region")]
    RUNNING, COMPLETED, STOPPED, ABORTED, FAILED = (
        "running", "completed", "stopped_by_condition", "aborted", "failed")

    kind = models.CharField(max_length=32, choices=KINDS)
    params = models.JSONField(default=dict)  # what the fault needs, and what to restore
    stop_conditions = models.JSONField(default=dict)  # metric or counter -> maximum allowed
    duration_s = models.PositiveIntegerField()
    status = models.CharField(max_length=24, default=RUNNING, db_index=True)
    started_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    stop_reason = models.CharField(max_length=300, blank=True)
    started_by = models.CharField(max_length=150, blank=True)
    timeline = models.JSONField(default=list)  # [{"ts": iso, "what": text}]
    invariants = models.JSONField(default=dict)  # the last counters seen while it ran

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = "chaos experiment"

    def __str__(self) -> str:
        return f"{self.kind} ({self.status})"
