"""The chaos panel (ops console, staff only): the local stack's analogue of AWS FIS experiments
(docs/architecture.md, "Chaos experiments"). Refused outside the local stack: on AWS the same
experiments are FIS templates with CloudWatch alarms as stop conditions (docs/deploy.md).

An experiment holds one fault for a duration:
- stop_matcher: kill -9 one matcher process of this region, found in the launcher's
  children.json (tulip.drills); the launcher's supervisor starts it again, as an orchestrator
  replaces a stopped task, and another process takes its shards when its lease runs out;
- inject_latency: the injectLatencyMs flag override (every HTTP request is delayed);
- deny_writes: the denyWrites flag override (POST /order and /cancel answer 503);
- partition: cut this region from another (tulip.drills: replication, forwarding, health checks);
- failover: a planned failover to another region (ops.regions.failover), failed back at the end.
It ends early when a stop condition is breached: an SLO metric over the last WINDOW_S above its
limit (ops.gate.ALERT_LIMITS by default, each editable), or an invariant counter (double fills, seq
gaps, lost acks: the reconciliation checks of ops/checks.py on a fresh snapshot) above zero. Either
way the fault is reverted and the timeline says what happened and when.

`tick` drives every running experiment; the stream projector calls it once a second
(`manage.py project_streams`), so an experiment ends on time even with no console open. While an
experiment runs, each tick also records the SLO values of its window as MetricSample rows: the
dashboard draws the experiment over them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections import deque
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from ops import checks, gate, metrics_export
from ops import regions as ops_regions
from ops.ledger import take_snapshot
from ops.models import ChaosExperiment, MetricSample
from tulip import drills, flags, regions
from tulip.config import MAX_INJECTED_LATENCY_MS, Config
from tulip.models import FeatureFlagOverride

log = logging.getLogger("ops.chaos")

MIN_DURATION_S, MAX_DURATION_S, DEFAULT_DURATION_S = 5, 1800, 60
WINDOW_S = 5.0  # the SLO values a stop condition judges: the last WINDOW_S seconds of traffic
MIN_REQUESTS = 5  # fewer requests than this in the window judge no latency or error rate
INVARIANTS_EVERY_S = 5.0  # a fresh reconciliation snapshot at most this often per process
LOST_ACK_AGE_S = 30.0  # an order answered 201 and still unseen by the matcher after this: lost
# Invariant counters, each from the reconciliation checks (ops/checks.py).
INVARIANTS = {"doubleFills": (checks.DOUBLE_FILL,), "seqGaps": (checks.SEQ_GAP, checks.SEQ_AHEAD),
              "lostAcks": (checks.ACCEPTED_UNSEEN,)}
# The SLO metrics a stop condition may name, with their default limits.
SLO_LIMITS = {name: gate.ALERT_LIMITS[name] for name in metrics_export.SLO_NAMES
              if name in gate.ALERT_LIMITS}
DEFAULT_STOP_CONDITIONS: dict[str, float] = {
    "LatencyP95": gate.P95_MAX_MS, "Http5xxRate": gate.ERROR_RATE_MAX_PCT,
    **dict.fromkeys(INVARIANTS, 0.0)}


class ChaosRefused(RuntimeError):
    """The experiment cannot be started as asked (one line, shown in the panel)."""


def refuse_outside_local(cfg: Config) -> None:
    if cfg.environment == "production" or not cfg.is_local_aws:
        raise ChaosRefused("The chaos panel runs on the local stack only (on AWS: FIS "
                           "experiments, docs/deploy.md).")


def kinds(cfg: Config) -> list[tuple[str, str]]:
    """What this stack can run: region experiments need a second region."""
    multi = len(cfg.regions) > 1
    return [(k, label) for k, label in ChaosExperiment.KINDS
            if multi or k not in (ChaosExperiment.PARTITION, ChaosExperiment.FAILOVER)]


def matcher_processes(cfg: Config) -> dict[str, int]:
    """This region's matcher processes from the launcher's children.json: name -> pid."""
    suffix = "" if not cfg.regions or cfg.aws_region == cfg.regions[0] else f"@{cfg.aws_region}"
    return {name: pid for name, pid in drills.children(cfg).items()
            if name.startswith("matcher-") and name.endswith(suffix)
            and ("@" in name) == bool(suffix)}


def _now() -> datetime:
    return timezone.now()


def _note(experiment: ChaosExperiment, what: str) -> None:
    experiment.timeline = [*experiment.timeline, {"ts": _now().isoformat(timespec="milliseconds"),
                                                   "what": what}]


# ---------------------------------------------------------------------- start
def parse_conditions(raw: dict[str, Any]) -> dict[str, float]:
    """{name: limit} for the known SLO metrics and invariant counters; anything else refused."""
    conditions: dict[str, float] = {}
    for name, value in raw.items():
        if name not in SLO_LIMITS and name not in INVARIANTS:
            raise ChaosRefused(f"unknown stop condition {name!r}")
        try:
            limit = float(value)
        except (TypeError, ValueError):
            raise ChaosRefused(f"stop condition {name}: {value!r} is not a number") from None
        if limit < 0 or limit != limit:
            raise ChaosRefused(f"stop condition {name}: must be >= 0")
        conditions[name] = limit
    return conditions


def start(cfg: Config, kind: str, duration_s: int, conditions: dict[str, float],
          params: dict[str, Any], user: str) -> ChaosExperiment:
    refuse_outside_local(cfg)
    if kind not in dict(kinds(cfg)):
        raise ChaosRefused(f"unknown or unavailable experiment {kind!r}")
    if not MIN_DURATION_S <= duration_s <= MAX_DURATION_S:
        raise ChaosRefused(f"duration: {MIN_DURATION_S}..{MAX_DURATION_S} seconds")
    if ChaosExperiment.objects.filter(status=ChaosExperiment.RUNNING).exists():
        raise ChaosRefused("An experiment is already running: stop it first.")
    now = _now()
    experiment = ChaosExperiment(kind=kind, duration_s=duration_s, stop_conditions=conditions,
                                 started_at=now, ends_at=now + timedelta(seconds=duration_s),
                                 started_by=user[:150], params={})
    _note(experiment, f"started by {user}: {dict(ChaosExperiment.KINDS)[kind]} for {duration_s}s; "
                      f"stop if {_describe(conditions) or 'never (no stop condition)'}")
    experiment.params = _inject(cfg, experiment, kind, params)
    experiment.save()
    _reset_window()
    log.warning("chaos experiment started", extra={"experiment": experiment.pk, "kind": kind})
    return experiment


def _describe(conditions: dict[str, float]) -> str:
    return ", ".join(f"{name} > {limit:g}" for name, limit in conditions.items())


def _inject(cfg: Config, experiment: ChaosExperiment, kind: str,
            params: dict[str, Any]) -> dict[str, Any]:
    if kind == ChaosExperiment.STOP_MATCHER:
        processes = matcher_processes(cfg)
        name = str(params.get("process") or (sorted(processes)[0] if processes else ""))
        pid = processes.get(name)
        if pid is None:
            raise ChaosRefused("No matcher process of this region is known: the launcher's "
                               f"children.json (in {cfg.state_dir}) names none.")
        _kill(pid)
        _note(experiment, f"killed {name} (pid {pid}, SIGKILL); the supervisor restarts it")
        return {"process": name, "pid": pid}
    if kind == ChaosExperiment.INJECT_LATENCY:
        ms = int(params.get("ms") or 0)
        if not 1 <= ms <= MAX_INJECTED_LATENCY_MS:
            raise ChaosRefused(f"latency: 1..{MAX_INJECTED_LATENCY_MS} ms")
        previous = _set_flags(inject_latency_ms=ms)
        _note(experiment, f"injectLatencyMs = {ms}")
        return {"ms": ms, "previous": previous["inject_latency_ms"]}
    if kind == ChaosExperiment.DENY_WRITES:
        previous = _set_flags(deny_writes=True)
        _note(experiment, "denyWrites = true")
        return {"previous": previous["deny_writes"]}
    if kind == ChaosExperiment.PARTITION:
        peer = str(params.get("peer") or "")
        if peer not in cfg.peer_regions:
            raise ChaosRefused(f"partition: the other region must be one of {', '.join(cfg.peer_regions)}")
        drills.partition(cfg, cfg.aws_region, peer)
        _note(experiment, f"partitioned {cfg.aws_region} | {peer}")
        return {"regions": [cfg.aws_region, peer]}
    # failover
    target = str(params.get("to") or "")
    before = regions.read(cfg).leader_region
    if target not in cfg.regions or target == before:
        raise ChaosRefused(f"failover: --to must be a region other than the leader ({before})")
    _failover(cfg, experiment, target)
    return {"to": target, "from": before}


def _failover(cfg: Config, experiment: ChaosExperiment, target: str) -> None:
    try:
        record = ops_regions.failover(cfg, target, wait_s=0.0, say=lambda _m: None)
        _note(experiment, f"failed over to {target} (term {record.term})")
    except ops_regions.FailoverRefused as exc:
        if regions.read(cfg).leader_region != target:
            raise ChaosRefused(f"failover refused: {exc}") from None
        _note(experiment, f"{target} leads (term written; replication carries it)")
    regions.invalidate()


def _kill(pid: int) -> None:
    """SIGKILL the child's process group: only a launcher child (its own group, a matcher)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        if os.getpgid(pid) != pid or b"--matcher" not in cmdline:
            raise ChaosRefused(f"pid {pid} is not a matcher process of this stack (any more)")
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, FileNotFoundError):
        raise ChaosRefused(f"pid {pid} is not running (the supervisor may be restarting it)") from None


def _set_flags(**values: Any) -> dict[str, Any]:
    """Set flag overrides; returns the row's previous values (None: the environment's)."""
    with transaction.atomic():
        row, _ = FeatureFlagOverride.objects.select_for_update().get_or_create(pk=1)
        previous = {name: getattr(row, name) for name in values}
        for name, value in values.items():
            setattr(row, name, value)
        row.updated_by = "chaos panel"
        row.save()
    flags.invalidate()
    return previous


# ---------------------------------------------------------------------- end
def end(cfg: Config, experiment: ChaosExperiment, status: str, reason: str) -> bool:
    """Mark it ended (once: the first caller wins) and revert its fault. False if it had ended."""
    won = ChaosExperiment.objects.filter(pk=experiment.pk, status=ChaosExperiment.RUNNING).update(
        status=status, ended_at=_now(), stop_reason=reason[:300])
    if not won:
        return False
    experiment.refresh_from_db()
    _note(experiment, reason)
    try:
        _revert(cfg, experiment)
    except Exception as exc:  # the panel must say so rather than die: ops can revert by hand
        log.exception("chaos revert failed")
        _note(experiment, f"revert FAILED ({type(exc).__name__}): restore it by hand")
        experiment.status = ChaosExperiment.FAILED
    experiment.save()
    log.warning("chaos experiment ended", extra={"experiment": experiment.pk, "status": status,
                                                 "reason": reason})
    return True


def _revert(cfg: Config, experiment: ChaosExperiment) -> None:
    params = experiment.params
    if experiment.kind == ChaosExperiment.INJECT_LATENCY:
        _set_flags(inject_latency_ms=params.get("previous"))
        _note(experiment, f"reverted: injectLatencyMs = {params.get('previous') or 'environment'}")
    elif experiment.kind == ChaosExperiment.DENY_WRITES:
        _set_flags(deny_writes=params.get("previous"))
        _note(experiment, "reverted: denyWrites = "
                          f"{'environment' if params.get('previous') is None else params.get('previous')}")
    elif experiment.kind == ChaosExperiment.PARTITION:
        a, b = params["regions"]
        drills.unpartition(cfg, a, b)
        _note(experiment, f"healed {a} | {b}")
    elif experiment.kind == ChaosExperiment.FAILOVER:
        back = str(params.get("from"))
        if regions.read(cfg).leader_region != back:
            _failover(cfg, experiment, back)
    elif experiment.kind == ChaosExperiment.STOP_MATCHER:
        name = params.get("process")
        pid = drills.children(cfg).get(str(name))
        _note(experiment, f"{name} running again as pid {pid}" if pid and pid != params.get("pid")
                          else f"{name} not restarted yet: the supervisor backs off (1 s, doubling)")


def abort(cfg: Config, experiment: ChaosExperiment, user: str) -> bool:
    return end(cfg, experiment, ChaosExperiment.ABORTED, f"stopped by {user}")


def expire_overdue(cfg: Config, grace_s: float = 5.0) -> None:
    """The safety net where no projector ticks: an experiment past its end (and grace) ends."""
    cutoff = _now() - timedelta(seconds=grace_s)
    for experiment in ChaosExperiment.objects.filter(status=ChaosExperiment.RUNNING,
                                                     ends_at__lt=cutoff):
        end(cfg, experiment, ChaosExperiment.COMPLETED, "duration over")


# ---------------------------------------------------------------------- the stop conditions
_window: deque[tuple[float, metrics_export.Counts]] = deque()
_window_lock = threading.Lock()


def _reset_window() -> None:
    with _window_lock:
        _window.clear()


def window_values(now: float | None = None) -> dict[str, float]:
    """The SLO values over the last WINDOW_S seconds, from this host's metrics registry (every
    process of the region writes to it: tulip.metrics multiprocess mode)."""
    now = time.monotonic() if now is None else now
    current = metrics_export.read_counts()
    with _window_lock:
        _window.append((now, current))
        while len(_window) > 1 and now - _window[1][0] >= WINDOW_S:
            _window.popleft()
        start_at, before = _window[0]
    if start_at == now:
        return {}
    values = metrics_export.slo_values(current, before)
    if current.requests - before.requests < MIN_REQUESTS:
        for name in ("Http5xxRate", "LatencyP50", "LatencyP95", "LatencyP99"):
            values.pop(name, None)
    return values


_invariants: dict[str, Any] = {"at": 0.0, "counts": {}}
_invariants_lock = threading.Lock()


def invariants(cfg: Config, max_age_s: float = INVARIANTS_EVERY_S) -> dict[str, int]:
    """Double fills, seq gaps and lost acks in a fresh reconciliation snapshot (cached for at
    most max_age_s in this process: a snapshot reads every order, trade and event)."""
    with _invariants_lock:
        if time.monotonic() - float(_invariants["at"]) < max_age_s:
            return dict(_invariants["counts"])
    findings, _resolved = checks.check(take_snapshot(cfg, None, None, LOST_ACK_AGE_S),
                                       LOST_ACK_AGE_S)
    summary = checks.summarize(findings)
    counts = {name: sum(summary.get(kind, 0) for kind in kinds_)
              for name, kinds_ in INVARIANTS.items()}
    with _invariants_lock:
        _invariants.update(at=time.monotonic(), counts=counts)
    return counts


def breaches(conditions: dict[str, float], values: dict[str, float],
             counters: dict[str, int]) -> list[str]:
    """Pure: which stop conditions the values and counters breach, as sentences."""
    found = []
    for name, limit in conditions.items():
        value = values.get(name) if name in SLO_LIMITS else counters.get(name)
        if value is not None and value > limit:
            unit = metrics_export.UNITS.get(name, "")
            found.append(f"{name} {value:g}{' ' + unit if unit else ''} > {limit:g}")
    return found


def tick(cfg: Config) -> list[str]:
    """One pass over the running experiments (the projector's loop, once a second): record the
    window's SLO values, end an experiment whose stop condition is breached or whose time is up.
    Returns what it did, for the log."""
    running = list(ChaosExperiment.objects.filter(status=ChaosExperiment.RUNNING))
    if not running:
        _reset_window()
        return []
    values = window_values()
    if values:
        MetricSample.objects.bulk_create([MetricSample(ts=_now(), name=name, value=value)
                                          for name, value in sorted(values.items())])
    done: list[str] = []
    for experiment in running:
        counters: dict[str, int] = {}
        if any(name in INVARIANTS for name in experiment.stop_conditions):
            with contextlib.suppress(Exception):  # an unreadable ledger judges nothing this tick
                counters = invariants(cfg)
                if counters != experiment.invariants:
                    ChaosExperiment.objects.filter(pk=experiment.pk).update(invariants=counters)
        found = breaches(experiment.stop_conditions, values, counters)
        if found:
            if end(cfg, experiment, ChaosExperiment.STOPPED, "stop condition: " + "; ".join(found)):
                done.append(f"experiment {experiment.pk} stopped: {'; '.join(found)}")
        elif _now() >= experiment.ends_at and end(cfg, experiment, ChaosExperiment.COMPLETED,
                                                  "duration over"):
            done.append(f"experiment {experiment.pk} completed")
    return done
