"""The ops console (Django admin, staff only): the orders/trades projection, reconciliation runs
and findings with a review and sign-off workflow (links to the orders, trades and events a
finding names), runtime feature flags, region state (leadership, replication lag, monitors,
shard leases), the SLO dashboard and the chaos panel (ops/chaos.py, local stack only).

Everything here reads Django's database, except the region screen and a finding's events (read
only). Nothing here writes DynamoDB: fixes go through `manage.py reconcile --fix`, whose
compensations are appended to the ledger with the matcher's fencing; the chaos panel changes
flags, drills and processes of the local stack, never the ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from ops import chaos, gate, metrics_export, selectors, services
from ops.models import (
    ChaosExperiment,
    Finding,
    MetricSample,
    ProjectedOrder,
    ProjectedTrade,
    ReconciliationRun,
    RegionState,
    StreamCheckpoint,
)
from ops.storage import OpsStorage
from tulip import drills, flags, regions, storage
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
    _ChaosBase = admin.ModelAdmin[ChaosExperiment]
else:
    _ReadOnlyBase = _FindingBase = _FlagsBase = _ChaosBase = admin.ModelAdmin
    _FindingInlineBase = admin.TabularInline


class NoHandEdits:
    """No add, change or delete form: what the screen shows is derived or driven by actions."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnly(NoHandEdits, _ReadOnlyBase):
    """Derived data: viewable, never edited by hand (DynamoDB is the system of record)."""


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
                    "signed_off", "fix_action", "run")
    list_filter = ("kind", "review_state", "symbol", "run")
    search_fields = ("key", "order_ids", "trade_ids")
    readonly_fields = ("run", "kind", "key", "symbol", "order_links", "trade_links", "event_links",
                       "expected", "actual", "detail", "fix_action", "fix_seq", "reviewed_by",
                       "reviewed_at", "signed_off_by", "signed_off_at", "sign_off_note")
    fields = (*readonly_fields, "review_state", "note")
    actions = ("acknowledge", "mark_fixed", "mark_wont_fix")
    list_per_page = 50
    change_form_template = "admin/ops/finding/change_form.html"

    # -- links from a finding to what it names (the read projection's rows, the stored events)
    @admin.display(description="orders")
    def order_links(self, obj: Finding) -> str:
        return _links("admin:ops_projectedorder_change", obj.order_ids) or "-"

    @admin.display(description="trades")
    def trade_links(self, obj: Finding) -> str:
        return _links("admin:ops_projectedtrade_change", obj.trade_ids) or "-"

    @admin.display(description="events")
    def event_links(self, obj: Finding) -> str:
        if obj.pk is None:
            return "-"
        url = reverse("admin:ops_finding_events", args=[obj.pk])
        return format_html('<a href="{}" class="finding-events">the events of {} that name them</a>',
                           url, obj.symbol)

    @admin.display(description="signed off", boolean=True)
    def signed_off(self, obj: Finding) -> bool:
        return obj.signed_off_at is not None

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [path("<int:pk>/events/", wrap(self.events_view), name="ops_finding_events"),
                path("<int:pk>/sign-off/", wrap(self.sign_off_view), name="ops_finding_sign_off"),
                *super().get_urls()]

    def events_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The finding's symbol's stored events that name its orders or trades, or carry its key
        (a Reconciled compensation): read from DynamoDB, the state of record."""
        finding = Finding.objects.get(pk=pk)
        wanted = set(finding.order_ids) | set(finding.trade_ids)
        rows: list[dict[str, Any]] = []
        error = ""
        try:
            for event in OpsStorage(settings.TULIP).events(finding.symbol):
                named = {str(v) for k, v in event.payload.items()
                         if k.endswith(("OrderId", "orderId", "tradeId")) and isinstance(v, str)}
                named |= {str(v) for k in ("orderIds", "tradeIds", "cancels")
                          for v in event.payload.get(k) or [] if isinstance(v, str)}
                if named & wanted or event.payload.get("findingKey") == finding.key:
                    rows.append({"seq": event.seq, "type": event.type, "ts": event.ts,
                                 "epoch": event.epoch, "payload": event.payload})
        except Exception as exc:  # the console renders even when DynamoDB does not answer
            error = f"DynamoDB unreachable: {type(exc).__name__}"
        context = {**self.admin_site.each_context(request), "opts": self.model._meta,
                   "title": f"Events naming finding {finding.pk} ({finding.kind})",
                   "finding": finding, "events": rows[-500:], "error": error}
        return TemplateResponse(request, "admin/ops/finding_events.html", context)

    def sign_off_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        finding = Finding.objects.get(pk=pk)
        url = reverse("admin:ops_finding_change", args=[pk])
        if request.method != "POST":
            return HttpResponseRedirect(url)
        try:
            services.sign_off(finding, request.user.get_username(), request.POST.get("sign_off_note", ""))
        except services.SignOffRefused as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.message_user(request, f"Finding {pk} signed off.", messages.SUCCESS)
        return HttpResponseRedirect(url)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        finding = Finding.objects.filter(pk=object_id).first()
        context = dict(extra_context or {})
        if finding is not None:
            context["can_sign_off"] = (finding.review_state in services.SIGNABLE
                                       and finding.signed_off_at is None)
            context["sign_off_url"] = reverse("admin:ops_finding_sign_off", args=[finding.pk])
        return super().change_view(request, object_id, form_url, context)

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


def _links(route: str, ids: list[str]) -> str:
    return format_html_join(", ", '<a href="{}">{}</a>',
                            ((reverse(route, args=[i]), i) for i in ids if isinstance(i, str)))


DASHBOARD_MINUTES = 30
MAX_POINTS_PER_METRIC = 2000


def slo_series(minutes: int) -> dict[str, Any]:
    """Every TulipBroker SLO metric over the last `minutes` with its limit (ops.gate), the live
    value, and the chaos experiments of that time: what the dashboard and the chaos panel draw."""
    since = timezone.now() - timedelta(minutes=minutes)
    points: dict[str, list[list[float]]] = {name: [] for name in metrics_export.SLO_NAMES}
    for ts, name, value in (MetricSample.objects.filter(ts__gte=since).order_by("ts")
                            .values_list("ts", "name", "value")[:20_000]):
        if name in points:
            points[name].append([round(ts.timestamp(), 3), value])
    live = metrics_export.slo_values(metrics_export.read_counts())
    experiments = [
        {"id": e.pk, "kind": e.kind, "label": e.get_kind_display(), "status": e.status,
         "start": e.started_at.timestamp(), "end": (e.ended_at or timezone.now()).timestamp(),
         "reason": e.stop_reason, "timeline": e.timeline}
        for e in ChaosExperiment.objects.filter(started_at__gte=since - timedelta(minutes=60))
        .order_by("started_at")[:50] if (e.ended_at is None or e.ended_at >= since)]
    return {"now": timezone.now().timestamp(), "minutes": minutes,
            "metrics": [{"name": name, "unit": metrics_export.UNITS[name],
                         "limit": gate.ALERT_LIMITS.get(name), "live": live.get(name),
                         "points": points[name][-MAX_POINTS_PER_METRIC:]}
                        for name in metrics_export.SLO_NAMES],
            "experiments": experiments}


@admin.register(MetricSample)
class SloPanelAdmin(ReadOnly):
    """The SLO dashboard: every TulipBroker metric over time against its limit (the gate's, or the
    alerting limit: ops.gate.ALERT_LIMITS), with the chaos experiments drawn over it."""

    def get_urls(self) -> list[URLPattern]:
        return [path("data/", self.admin_site.admin_view(self.data_view), name="ops_slo_data"),
                *super().get_urls()]

    def data_view(self, request: HttpRequest) -> JsonResponse:
        try:
            minutes = max(1, min(24 * 60, int(request.GET.get("minutes") or DASHBOARD_MINUTES)))
        except ValueError:
            minutes = DASHBOARD_MINUTES
        return JsonResponse(slo_series(minutes))

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        series = slo_series(DASHBOARD_MINUTES)
        rows = [{"name": m["name"], "published": m["points"][-1][1] if m["points"] else None,
                 "live": m["live"], "unit": m["unit"], "limit": m["limit"]}
                for m in series["metrics"]]
        context = {**self.admin_site.each_context(request), "opts": self.model._meta,
                   "title": f"SLO dashboard (last {DASHBOARD_MINUTES} minutes)", "rows": rows,
                   "data_url": reverse("admin:ops_slo_data"), "minutes": DASHBOARD_MINUTES,
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
        leadership: regions.Leadership | None = None
        lag: list[dict[str, Any]] = []
        monitors: list[dict[str, Any]] = []
        error = ""
        try:
            leadership = regions.read(cfg)
            shards = selectors.shard_leases(cfg)
            # Locally, the holder's process by name (the launcher's children.json).
            by_pid = {str(pid): name for name, pid in drills.children(cfg).items()}
            for shard in shards:
                shard["process"] = by_pid.get(str(shard["holder"] or "").rpartition(":")[2], "")
            lag = [{"source": r.source, "lagMs": r.lag_ms, "paused": r.paused,
                    "appliedAt": _ms_iso(r.applied_ms)}
                   for r in sorted(storage.replication_into(cfg.aws_region), key=lambda r: r.source)]
            for region in cfg.regions or (cfg.aws_region,):
                status = storage.region_status(region)
                monitors.append({"region": region, "seen": status is not None,
                                 "steppedDown": bool(status and status.stepped_down),
                                 "checkedAt": _ms_iso(status.checked_ms if status else None),
                                 "peerSeenAt": _ms_iso(status.peer_seen_ms if status else None),
                                 "leaderSeenAt": _ms_iso(status.leader_seen_ms if status else None)})
        except Exception as exc:  # the console must render even when DynamoDB does not answer
            error = f"DynamoDB unreachable: {type(exc).__name__}"
        awaiting = Finding.objects.filter(signed_off_at__isnull=True).exclude(
            review_state__in=(Finding.FIXED, Finding.WONT_FIX))
        context = {**self.admin_site.each_context(request), "title": "Region state",
                   "opts": self.model._meta, "region": cfg.aws_region,
                   "configured_role": cfg.region_role, "leadership": leadership,
                   "flags": effective.as_contract(), "shards": shards, "lag": lag,
                   "monitors": monitors, "peers": cfg.peer_regions, "error": error,
                   "findings_open": awaiting.count(),
                   "findings_to_sign": Finding.objects.filter(
                       signed_off_at__isnull=True,
                       review_state__in=(Finding.FIXED, Finding.WONT_FIX)).count()}
        return TemplateResponse(request, "admin/ops/region_state.html", context)


def _ms_iso(ms: int | None) -> str | None:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds") if ms else None


@admin.register(ChaosExperiment)
class ChaosPanelAdmin(NoHandEdits, _ChaosBase):
    """The chaos panel (ops/chaos.py): start an experiment with a duration and stop conditions,
    watch its timeline over the SLO charts and the invariant counters; local stack only."""

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [path("start/", wrap(self.start_view), name="ops_chaos_start"),
                path("<int:pk>/stop/", wrap(self.stop_view), name="ops_chaos_stop"),
                path("status/", wrap(self.status_view), name="ops_chaos_status"),
                *super().get_urls()]

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        cfg = settings.TULIP
        refused = ""
        try:
            chaos.refuse_outside_local(cfg)
        except chaos.ChaosRefused as exc:
            refused = str(exc)
        context = {**self.admin_site.each_context(request), "opts": self.model._meta,
                   "title": "Chaos panel", "refused": refused, "kinds": chaos.kinds(cfg),
                   "matchers": sorted(chaos.matcher_processes(cfg)) if not refused else [],
                   "peers": cfg.peer_regions, "regions": cfg.regions,
                   "slo_limits": chaos.SLO_LIMITS, "defaults": chaos.DEFAULT_STOP_CONDITIONS,
                   "invariant_names": list(chaos.INVARIANTS),
                   "durations": (chaos.MIN_DURATION_S, chaos.MAX_DURATION_S,
                                 chaos.DEFAULT_DURATION_S),
                   "running": ChaosExperiment.objects.filter(
                       status=ChaosExperiment.RUNNING).first(),
                   "recent": ChaosExperiment.objects.all()[:10],
                   "status_url": reverse("admin:ops_chaos_status"),
                   "data_url": reverse("admin:ops_slo_data")}
        return TemplateResponse(request, "admin/ops/chaos_panel.html", context)

    def start_view(self, request: HttpRequest) -> HttpResponse:
        back = reverse("admin:ops_chaosexperiment_changelist")
        if request.method != "POST":
            return HttpResponseRedirect(back)
        cfg = settings.TULIP
        form = request.POST
        try:
            conditions = chaos.parse_conditions({
                name: form.get(f"limit_{name}") for name in (*chaos.SLO_LIMITS, *chaos.INVARIANTS)
                if form.get(f"use_{name}") and form.get(f"limit_{name}") not in (None, "")})
            try:
                duration = int(form.get("duration_s") or chaos.DEFAULT_DURATION_S)
            except ValueError:
                raise chaos.ChaosRefused("duration: a whole number of seconds") from None
            params = {"ms": form.get("ms"), "process": form.get("process"),
                      "peer": form.get("peer"), "to": form.get("to")}
            experiment = chaos.start(cfg, str(form.get("kind") or ""), duration, conditions,
                                     params, request.user.get_username())
        except chaos.ChaosRefused as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.message_user(request, f"Experiment {experiment.pk} started.", messages.SUCCESS)
        return HttpResponseRedirect(back)

    def stop_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        back = reverse("admin:ops_chaosexperiment_changelist")
        experiment = ChaosExperiment.objects.filter(pk=pk).first()
        if (request.method == "POST" and experiment is not None
                and chaos.abort(settings.TULIP, experiment, request.user.get_username())):
            self.message_user(request, f"Experiment {pk} stopped and reverted.", messages.SUCCESS)
        return HttpResponseRedirect(back)

    def status_view(self, request: HttpRequest) -> JsonResponse:
        """What the panel polls every second: the running experiment, the recent ones, and the
        invariant counters of a fresh reconciliation snapshot (cached a few seconds)."""
        cfg = settings.TULIP
        chaos.expire_overdue(cfg)
        counters: dict[str, int] | None = None
        error = ""
        try:
            chaos.refuse_outside_local(cfg)
            counters = chaos.invariants(cfg)
        except chaos.ChaosRefused as exc:
            error = str(exc)
        except Exception as exc:  # the ledger could not be read: say so, keep polling
            error = f"invariants unreadable: {type(exc).__name__}"
        return JsonResponse({
            "now": timezone.now().timestamp(), "invariants": counters, "error": error,
            "experiments": [_experiment_json(e) for e in ChaosExperiment.objects.all()[:10]]})


def _experiment_json(e: ChaosExperiment) -> dict[str, Any]:
    return {"id": e.pk, "kind": e.kind, "label": e.get_kind_display(), "status": e.status,
            "params": e.params, "stopConditions": e.stop_conditions, "durationS": e.duration_s,
            "start": e.started_at.timestamp(), "endsAt": e.ends_at.timestamp(),
            "end": e.ended_at.timestamp() if e.ended_at else None, "reason": e.stop_reason,
            "startedBy": e.started_by, "timeline": e.timeline, "invariants": e.invariants}
