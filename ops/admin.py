"""The ops console (Django admin, staff only): the orders/trades projection, reconciliation runs
and findings with a review workflow, runtime feature flags, region state and the SLO panel.

Everything here reads Django's database, except the region screen (config + SHARD items, read
only). Nothing here writes DynamoDB: fixes go through `manage.py reconcile --fix`, whose
compensations are appended to the ledger with the matcher's fencing."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from ops import gate, metrics_export, selectors, services
from ops.models import (
    Finding,
    MetricSample,
    ProjectedOrder,
    ProjectedTrade,
    ReconciliationRun,
    RegionState,
    StreamCheckpoint,
)
from tulip import flags
from tulip.models import FeatureFlagOverride

admin.site.site_header = "TulipBroker ops console"
admin.site.site_title = "TulipBroker ops"
admin.site.index_title = "Operations"

if TYPE_CHECKING:
    # django-stubs types the admin's classes by their model; Django's own take no subscript at
    # run time, so the typed bases exist for the type checker only.
    _ReadOnlyBase = admin.ModelAdmin[Model]
    _FindingBase = admin.ModelAdmin[Finding]
    _FindingInlineBase = admin.TabularInline[Finding, ReconciliationRun]
    _FlagsBase = admin.ModelAdmin[FeatureFlagOverride]
else:
    _ReadOnlyBase = _FindingBase = _FlagsBase = admin.ModelAdmin
    _FindingInlineBase = admin.TabularInline


class ReadOnly(_ReadOnlyBase):
    """Derived data: viewable, never edited by hand (DynamoDB is the system of record)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ProjectedOrder)
class ProjectedOrderAdmin(ReadOnly):
    list_display = ("order_id", "symbol", "side", "qty", "price_ticks", "status", "filled_qty",
                    "client_id", "created_at", "cancel_reason")
    list_filter = ("symbol", "status", "side", "cancel_reason")
    search_fields = ("order_id", "client_id", "idempotency_key")
    list_per_page = 50


@admin.register(ProjectedTrade)
class ProjectedTradeAdmin(ReadOnly):
    list_display = ("trade_id", "symbol", "seq", "qty", "price_ticks", "taker_side",
                    "buy_order_id", "sell_order_id", "ts")
    list_filter = ("symbol", "taker_side")
    search_fields = ("trade_id", "buy_order_id", "sell_order_id", "buy_client_id",
                     "sell_client_id")
    list_per_page = 50


@admin.register(StreamCheckpoint)
class StreamCheckpointAdmin(ReadOnly):
    list_display = ("table", "shard_id", "sequence_number", "records_applied", "updated_at")


class FindingInline(_FindingInlineBase):
    model = Finding
    extra = 0
    can_delete = False
    fields = ("kind", "symbol", "order_ids", "expected", "actual", "review_state", "fix_action")
    readonly_fields = fields
    show_change_link = True


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnly):
    list_display = ("id", "started_at", "symbols", "since", "fix", "status", "finding_count",
                    "resolved_count", "triggered_by")
    list_filter = ("status", "fix")
    readonly_fields = ("started_at", "finished_at", "symbols", "since", "fix", "status",
                       "finding_count", "resolved_count", "summary", "actions", "triggered_by")
    inlines = [FindingInline]


@admin.register(Finding)
class FindingAdmin(_FindingBase):
    """Review workflow: new -> acknowledged -> fixed / won't fix, with notes. The ledger fix itself
    is `manage.py reconcile --fix` (runbooks); marking "fixed" here records a human's decision."""

    list_display = ("id", "kind", "symbol", "order_ids", "expected", "actual", "review_state",
                    "fix_action", "run")
    list_filter = ("kind", "review_state", "symbol", "run")
    search_fields = ("key", "order_ids", "trade_ids")
    readonly_fields = ("run", "kind", "key", "symbol", "order_ids", "trade_ids", "expected",
                       "actual", "detail", "fix_action", "fix_seq", "reviewed_by", "reviewed_at")
    fields = (*readonly_fields, "review_state", "note")
    actions = ("acknowledge", "mark_fixed", "mark_wont_fix")
    list_per_page = 50

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # findings are the audit trail

    def save_model(self, request: HttpRequest, obj: Finding, form: Any, change: bool) -> None:
        services.review(obj, obj.review_state, request.user.get_username())

    def _bulk(self, request: HttpRequest, queryset: QuerySet[Finding], state: str) -> None:
        for finding in queryset[:500]:
            services.review(finding, state, request.user.get_username())
        self.message_user(request, f"{min(queryset.count(), 500)} finding(s) marked {state}.",
                          messages.SUCCESS)

    @admin.action(description="Acknowledge selected findings")
    def acknowledge(self, request: HttpRequest, queryset: QuerySet[Finding]) -> None:
        self._bulk(request, queryset, Finding.ACKNOWLEDGED)

    @admin.action(description="Mark selected findings fixed")
    def mark_fixed(self, request: HttpRequest, queryset: QuerySet[Finding]) -> None:
        self._bulk(request, queryset, Finding.FIXED)

    @admin.action(description="Mark selected findings won't fix")
    def mark_wont_fix(self, request: HttpRequest, queryset: QuerySet[Finding]) -> None:
        self._bulk(request, queryset, Finding.WONT_FIX)


@admin.register(FeatureFlagOverride)
class FeatureFlagAdmin(_FlagsBase):
    """One row; every process picks a change up within ~1 s (tulip.flags)."""

    list_display = ("__str__", "inject_latency_ms", "force_leader", "force_leader_override",
                    "deny_writes", "accept_when_leader_down", "updated_by", "updated_at")
    fields = ("inject_latency_ms", "force_leader", "force_leader_override", "deny_writes",
              "accept_when_leader_down", "updated_by", "updated_at")
    readonly_fields = ("updated_by", "updated_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not FeatureFlagOverride.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: FeatureFlagOverride, form: Any,
                   change: bool) -> None:
        obj.pk = 1
        obj.updated_by = request.user.get_username()
        obj.save()
        flags.invalidate()

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        context = dict(extra_context or {})
        context["subtitle"] = "effective now: " + str(
            flags.current_flags(settings.TULIP).as_contract())
        return super().changelist_view(request, context)


@admin.register(MetricSample)
class SloPanelAdmin(ReadOnly):
    """The SLO panel: the TulipBroker metrics published over the last minutes."""

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        since = timezone.now() - timedelta(minutes=15)
        samples = list(MetricSample.objects.filter(ts__gte=since).order_by("-ts")[:700])
        latest: dict[str, float] = {}
        for sample in samples:
            latest.setdefault(sample.name, sample.value)
        live = metrics_export.slo_values(metrics_export.read_counts())
        rows = [{"name": name, "published": latest.get(name), "live": live.get(name),
                 "unit": metrics_export.UNITS[name]} for name in metrics_export.SLO_NAMES]
        context = {**self.admin_site.each_context(request), "title": "SLO panel (last 15 minutes)",
                   "rows": rows, "samples": samples[:100], "opts": self.model._meta,
                   "p95_max": gate.P95_MAX_MS, "error_max": gate.ERROR_RATE_MAX_PCT}
        return TemplateResponse(request, "admin/ops/slo_panel.html", context)


@admin.register(RegionState)
class RegionStateAdmin(ReadOnly):
    """The region's role, and per shard its holder, epoch and lease age (the SHARD items, read
    only)."""

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        cfg = settings.TULIP
        effective = flags.current_flags(cfg)
        shards: list[dict[str, Any]] = []
        error = ""
        try:
            shards = selectors.shard_leases(cfg)
        except Exception as exc:  # the console must render even when DynamoDB does not answer
            error = f"DynamoDB unreachable: {type(exc).__name__}"
        context = {**self.admin_site.each_context(request), "title": "Region state",
                   "opts": self.model._meta, "region": cfg.aws_region, "role": cfg.region_role,
                   "leader_region": cfg.leader_region, "flags": effective.as_contract(),
                   "shards": shards, "error": error}
        return TemplateResponse(request, "admin/ops/region_state.html", context)
