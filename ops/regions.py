"""Regions as ops run them (docs/architecture.md, "Regions"; docs/runbooks/region-failover.md):
what GET /region answers, the planned failover (`manage.py failover --to REGION`), and the health
monitor each region runs (`manage.py region_monitor`, the Route 53 health check's role).

The monitor, every second: probes every other region's GET /region (a partition drill,
tulip/drills.py, makes a pair unreachable). A leader that has seen no other region for
STEP_DOWN_AFTER_S steps down: it stops accepting writes and its matchers give their shards back,
so it cannot keep committing where nobody can see it. The one exception is the follower that
took over while cut off (two regions, split in two): it keeps leading, or nobody would, until it
sees the others again. A follower that has not seen the leader
healthy for FAILOVER_AFTER_S (> STEP_DOWN_AFTER_S, so the isolated leader has surely stopped)
takes over: it writes a new leadership record with the next term into its own replica, and its
matchers take every shard under that term (matching/leases.py), fencing the old epochs. When the
regions see each other again the newer term wins everywhere (replication orders the leadership
record by term), and the old leader finds itself a follower.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from ops.storage import OpsStorage
from tulip import drills, health, regions, storage
from tulip.clock import now_iso
from tulip.config import Config
from tulip.schema import LeaderItem, MatcherItem, RegionStatusItem, ReplicationItem, ShardItem

log = logging.getLogger("ops.regions")

# A health check's patience: generous, because on a loaded machine (or a slow region) a probe
# that times out reads as a region that is down, and too many of those trigger a failover.
PROBE_TIMEOUT_S = 2.0
# Probes in a row that must find the leader not healthy before a follower takes over, however
# long since it was last seen healthy: the elapsed time alone is no evidence when the monitor was
# held up itself. In the region chaos run at size (docs/reliability.md) the local DynamoDB
# stand-in, busy with the state-hash scans after the load, froze a follower's monitor for 8 s
# between two probes; the first probe after the stall was slow, and the follower failed over
# from a healthy leader. At one pass a second, an outage is seen five or six times before
# FAILOVER_AFTER_S: the failover is not delayed.
FAILOVER_MIN_MISSES = 2
MONITOR_PERIOD_S = 1.0
FAILOVER_CATCH_UP_S = 30.0  # a planned failover waits this long at most for replication


def region_view(cfg: Config) -> tuple[bool, dict[str, Any]]:
    """GET /region: (healthy, body). Healthy: the order path's dependencies answer and the
    region has not stepped down; what a health check (Route 53's) routes by."""
    leadership = regions.read(cfg)
    ready, _ = health.readiness(cfg)
    lag = max((row.lag_ms for row in storage.replication_into(cfg.aws_region)), default=0)
    healthy = ready and not leadership.stepped_down
    return healthy, {
        "region": cfg.aws_region, "role": leadership.role,
        "leaderRegion": leadership.leader_region, "epoch": leadership.term,
        "healthy": healthy, "replicationLagMs": lag, "steppedDown": leadership.stepped_down,
        "regions": list(cfg.regions)}


def _recorded_term(leadership: regions.Leadership) -> int | None:
    """put_leader's condition: the term this replica's record holds, or None (no record at all)
    when there is none, as on a fresh deployment whose stack wrote no record: a condition on
    term 1 fails on a missing item, and no failover could ever be written there."""
    return leadership.term if leadership.recorded else None


# ---------------------------------------------------------------------- planned failover
class FailoverRefused(RuntimeError):
    """The failover cannot be done as asked (one line, for the command)."""


def failover(cfg: Config, target: str, wait_s: float = FAILOVER_CATCH_UP_S,
             say: Callable[[str], None] = log.info) -> LeaderItem:
    """Planned: the current leader stops writing (its matchers give their shards back), the
    target catches up on replication, then leads under the next term. Nothing is lost and
    nothing needs compensating: every write of the old term reached the target first."""
    if target not in cfg.regions:
        raise FailoverRefused(f"--to: {target} is not one of {', '.join(cfg.regions)}")
    current = regions.read(cfg)
    if current.leader_region == target:
        raise FailoverRefused(f"{target} already leads (term {current.term})")
    record = LeaderItem(LeaderItem.key(), LeaderItem.key(), leader_region=target,
                        term=current.term + 1, since=now_iso(), reason="planned failover")
    if not storage.put_leader(record, _recorded_term(current)):
        raise FailoverRefused("the leadership changed meanwhile; look again and retry")
    say(f"term {record.term}: {target} leads; waiting for it to hold this region's writes")
    _wait_for_replication(cfg, target, record.term, wait_s, say)
    regions.invalidate()
    return record


def _wait_for_replication(cfg: Config, target: str, term: int, wait_s: float,
                          say: Callable[[str], None]) -> None:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        seen = _remote_term(cfg, target)
        if seen is not None and seen >= term:
            say(f"{target} holds term {term}: it takes the shards over from its replica")
            return
        time.sleep(0.5)
    raise FailoverRefused(f"{target} did not see term {term} within {wait_s:.0f}s (replication "
                          f"stalled or cut?); the record stays: it will take effect on arrival")


def _remote_term(cfg: Config, region: str) -> int | None:
    url = cfg.region_urls.get(region)
    if not url:
        return None
    try:
        answer = httpx.get(f"{url}/region", timeout=PROBE_TIMEOUT_S)
        return int(answer.json()["epoch"]) if answer.status_code in (200, 503) else None
    except (httpx.HTTPError, ValueError, KeyError):
        return None


# ---------------------------------------------------------------------- the health monitor
@dataclass
class MonitorState:
    started: float
    last_seen: dict[str, float] = field(default_factory=dict)  # region -> monotonic time
    last_healthy: dict[str, float] = field(default_factory=dict)
    # How many probes in a row found a region not healthy (FAILOVER_MIN_MISSES).
    misses: dict[str, int] = field(default_factory=dict)
    isolated_takeover_term: int = 0  # the term this region took while seeing no other region
    following: tuple[str, int] | None = None  # the (leader region, term) of the last pass
    # The newest leadership term another region has reported: kept, not re-probed each pass, so
    # a deposed leader stays down through a probe lost between the heal and the arrival of the
    # record of that term (a lost probe once let it lead for a pass, and its sweeper's write
    # rolled a new leader's fill back, last writer wins: simulation seed 1639).
    peer_term: int = 0


Probe = tuple[bool, bool, int | None]  # (answered, healthy, the leadership term it reports)


def probe(cfg: Config, region: str) -> Probe:
    """Another region's GET /region; a partition drill cuts it."""
    url = cfg.region_urls.get(region)
    if not url or drills.partitioned(cfg, cfg.aws_region, region):
        return False, False, None
    try:
        answer = httpx.get(f"{url}/region", timeout=PROBE_TIMEOUT_S)
    except httpx.ReadTimeout:
        return True, False, None  # connected, but slow: alive (a loaded region), not healthy
    except httpx.HTTPError as exc:
        # A refused connection is a region whose network answered with no server behind it,
        # as a load balancer with no healthy target answers 503: reached, not healthy. Counted
        # as unseen, a follower's API restart (one server per region locally) made the leader
        # think itself isolated and step down, and the follower then failed over (the region
        # chaos run at size, docs/reliability.md).
        return _refused(exc), False, None
    try:
        term = int(answer.json()["epoch"])
    except (ValueError, KeyError, TypeError):
        term = None
    return True, answer.status_code == 200, term


def _refused(exc: BaseException) -> bool:
    """Whether a failed request was a refused connection (a host there, no server listening)."""
    cause: BaseException | None = exc
    for _ in range(8):  # httpx wraps httpcore's error, which wraps the socket's: a short chain
        if cause is None:
            return False
        if isinstance(cause, ConnectionRefusedError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def monitor_step(cfg: Config, state: MonitorState, now: float,
                 probe_region: Callable[[Config, str], Probe] = probe) -> str | None:
    """One pass; returns what it did ("stepped down", "stepped up", "failed over") or None."""
    for region in cfg.peer_regions:
        answered, healthy, term = probe_region(cfg, region)
        if answered:
            state.last_seen[region] = now
            state.peer_term = max(state.peer_term, term or 0)
        if healthy:
            state.last_healthy[region] = now
        state.misses[region] = 0 if healthy else state.misses.get(region, 0) + 1
    leadership = regions.read(cfg)
    if state.following != (leadership.leader_region, leadership.term):
        # A leadership this region has just learned of (a failover elsewhere, replicated in at
        # a heal): its leader gets FAILOVER_AFTER_S from now to be seen healthy, not from the
        # last time this region saw it, before the partition. Without this a deposed leader
        # failed over to itself the moment the new record arrived (the region chaos run).
        learned_at = now if state.following is not None else state.started  # first pass: start
        state.following = (leadership.leader_region, leadership.term)
        state.last_healthy[leadership.leader_region] = max(
            state.last_healthy.get(leadership.leader_region, learned_at), learned_at)
    seen_any = max(state.last_seen.values(), default=state.started)
    if any(now - at < MONITOR_PERIOD_S * 1.5 for at in state.last_seen.values()):
        state.isolated_takeover_term = 0  # sees the others again: an ordinary leader from now
    isolated = (bool(cfg.peer_regions) and now - seen_any >= cfg.step_down_after_s
                and state.isolated_takeover_term != leadership.term)
    action = None
    i_lead = leadership.leader_region == cfg.aws_region
    # A peer leading under a newer term than this replica's record (a partition healed before
    # that record replicated here): this region was deposed, and leading again until the record
    # arrives would be a second leader, whose writes win last-writer-wins over the new one's.
    down = isolated or state.peer_term > leadership.term
    if i_lead and down != leadership.stepped_down:
        action = "stepped down" if down else "stepped up"
    elif (not i_lead and _leader_down(cfg, state, leadership.leader_region, now)
          and _first_candidate(cfg, state, now) and _healthy_itself(cfg, probe_region)):
        record = LeaderItem(LeaderItem.key(), LeaderItem.key(), leader_region=cfg.aws_region,
                            term=leadership.term + 1, since=now_iso(),
                            reason=f"{leadership.leader_region} down for "
                                   f"{cfg.failover_after_s}s")
        if storage.put_leader(record, _recorded_term(leadership)):
            action = "failed over"
            state.isolated_takeover_term = record.term
            log.warning("leader region down; this region leads now",
                        extra={"term": record.term, "from": leadership.leader_region})
    storage.put_region_status(RegionStatusItem(
        RegionStatusItem.key(cfg.aws_region), RegionStatusItem.key(cfg.aws_region),
        region=cfg.aws_region, stepped_down=i_lead and down,
        peer_seen_ms=_epoch_ms(seen_any, now), checked_ms=int(time.time() * 1000),
        isolated_takeover_term=state.isolated_takeover_term or None,
        peer_term=state.peer_term or None,
        leader_seen_ms=None if i_lead else _epoch_ms(
            state.last_healthy.get(leadership.leader_region, state.started), now)))
    if action:
        regions.invalidate()
    return action


def _leader_down(cfg: Config, state: MonitorState, leader: str, now: float) -> bool:
    """Not seen healthy for FAILOVER_AFTER_S (since its last healthy probe, or since this region
    learned of its leadership), and the last FAILOVER_MIN_MISSES probes found it not healthy."""
    leader_seen = state.last_healthy.get(leader, state.started)
    return (now - leader_seen >= cfg.failover_after_s
            and state.misses.get(leader, 0) >= FAILOVER_MIN_MISSES)


def _healthy_itself(cfg: Config, probe_region: Callable[[Config, str], Probe]) -> bool:
    """This region answers its own GET /region in time. A follower that is slow itself does not
    take over from a leader it finds slow: both are most likely held up by the same thing (in
    the region chaos run at size, the shared local DynamoDB stand-in busy with a full-table scan
    froze both APIs for 44 s, and a follower that failed over then forked 118 events off the
    history from a replica that was behind). Without its own URL configured it cannot tell."""
    if cfg.aws_region not in cfg.region_urls:
        return True
    answered, healthy, _ = probe_region(cfg, cfg.aws_region)
    return answered and healthy


def _first_candidate(cfg: Config, state: MonitorState, now: float) -> bool:
    """Of the followers this region can see healthy (itself included), it is the first in the
    configured order: with three or more regions only one of them takes over."""
    live = [r for r in cfg.regions if r == cfg.aws_region
            or now - state.last_healthy.get(r, float("-inf")) < cfg.failover_after_s]
    leader = regions.read(cfg).leader_region
    candidates = [r for r in live if r != leader]
    return bool(candidates) and candidates[0] == cfg.aws_region


def _epoch_ms(monotonic_at: float, now: float) -> int:
    return int((time.time() - (now - monotonic_at)) * 1000)


def run_monitor(cfg: Config, stop: Callable[[], bool]) -> None:
    status = storage.region_status(cfg.aws_region)  # a restarted monitor remembers the terms
    state = MonitorState(started=time.monotonic(),
                         isolated_takeover_term=(status.isolated_takeover_term or 0)
                         if status else 0,
                         peer_term=(status.peer_term or 0) if status else 0)
    while not stop():
        try:
            action = monitor_step(cfg, state, time.monotonic())
            if action:
                log.warning("region monitor", extra={"action": action})
        except Exception:  # DynamoDB or the network hiccuped: the next pass decides again
            log.exception("region monitor pass failed")
        time.sleep(MONITOR_PERIOD_S)


# ---------------------------------------------------------------------- convergence
# Items that describe a region rather than the ledger (each region's own monitor status and
# replication progress, the matcher membership) and the lease fields of the shard items, renewed
# every second: left out of the state hash, which compares the ledgers.
VOLATILE_PREFIXES = (RegionStatusItem.PREFIX, ReplicationItem.PREFIX, MatcherItem.PREFIX)
VOLATILE_SHARD_FIELDS = ("holder", "leaseExpiresAt", "updatedAt", "takenAt")


def state_hash(cfg: Config) -> tuple[str, dict[str, int]]:
    """The hash of this region's ledger (orders, idempotency records, trades, event pages,
    epochs, shard positions, the leadership record) and the count of each kind of item: two
    regions that converged print the same."""
    digest = hashlib.sha256()
    counts: dict[str, int] = {}
    rows = []
    for item in OpsStorage(cfg).ledger_items():
        pk = item["pk"]["S"]
        if pk.startswith(VOLATILE_PREFIXES):
            continue
        if pk.startswith(ShardItem.PREFIX):
            item = {k: v for k, v in item.items() if k not in VOLATILE_SHARD_FIELDS}
        kind = pk.split("#")[0]
        counts[kind] = counts.get(kind, 0) + 1
        rows.append(json.dumps(item, sort_keys=True, separators=(",", ":")))
    for row in sorted(rows):
        digest.update(row.encode())
        digest.update(b"\n")
    return digest.hexdigest(), counts
