"""Which region leads, as this region sees it (docs/architecture.md, "Regions"): the one view
order entry (write here, or forward), the matcher (hold shards, or idle) and ops (GET /region,
the admin) all use.

Sources, in order: the `forceLeader` feature flag (a drill tool: it decides outright); else the
leadership record in this region's replica (tulip.schema.LeaderItem: leader region and term,
written by `manage.py failover` and by a health monitor's automatic failover); else, before any
record exists, the configuration (REGION_ROLE, LEADER_REGION). A leader region whose monitor
stepped it down (it cannot see any other region, docs/architecture.md) does not lead.

Cached for at most a second per process: one read of two small items per second, not per
request; a failover takes effect everywhere within that second (plus replication)."""

from __future__ import annotations

from dataclasses import dataclass

from tulip import flags, storage
from tulip.config import Config
from tulip.ttl_cache import TtlCache

CACHE_TTL_S = 1.0
DEFAULT_TERM = 1  # the leadership the configuration describes, before any record is written
# replica_may_lag: the monitor probes every other region each second, so three seconds without
# an answer is a partition or a region down, not a slow probe; and replication this far behind.
PEER_UNSEEN_MS = 3_000
REPLICATION_BEHIND_MS = 2_000
# leader_down: two of the monitor's probes in a row without a healthy answer from the leader.
LEADER_DOWN_MS = 2_000


@dataclass(frozen=True, slots=True)
class Leadership:
    region: str  # this region
    leader_region: str
    term: int
    stepped_down: bool  # this region's monitor stopped it writing (an isolated leader)
    source: str  # "forceLeader" | "record" | "configuration"
    recorded: bool = True  # this replica holds a leadership record (its term is the record's)

    @property
    def leads(self) -> bool:
        return self.leader_region == self.region and not self.stepped_down

    @property
    def role(self) -> str:
        return "leader" if self.leader_region == self.region else "follower"


_cache: TtlCache[int, Leadership] = TtlCache(CACHE_TTL_S)


def read(cfg: Config) -> Leadership:
    """Uncached: the flags, the leadership record and this region's monitor status now."""
    status = storage.region_status(cfg.aws_region)
    stepped_down = bool(status is not None and status.stepped_down)
    record = storage.leader()
    term = record.term if record is not None else DEFAULT_TERM
    forced = flags.current_flags(cfg).force_leader
    if forced:
        return Leadership(cfg.aws_region, forced, term, stepped_down, "forceLeader",
                          record is not None)
    if record is not None:
        return Leadership(cfg.aws_region, record.leader_region, term, stepped_down, "record")
    leader = cfg.aws_region if cfg.region_role == "leader" else cfg.leader_region
    return Leadership(cfg.aws_region, leader, term, stepped_down, "configuration", False)


def current(cfg: Config) -> Leadership:
    return _cache.get(id(cfg), lambda: read(cfg))


def invalidate() -> None:
    _cache.clear()


def replica_may_lag(cfg: Config) -> bool:
    """Whether this region's replica may lack orders another region acknowledged: its monitor
    has not heard from the other regions lately (a partition; a cut-off leader acknowledges for
    a few seconds more before it steps down), or replication into it is paused or behind. An
    order this replica does not hold is then not known to be missing: order entry answers 503
    and the client retries, instead of a 404 the client would take as final
    (docs/architecture.md, "Regions")."""
    if not cfg.peer_regions:
        return False
    status = storage.region_status(cfg.aws_region)
    if (status is not None and status.peer_seen_ms is not None
            and status.checked_ms - status.peer_seen_ms > PEER_UNSEEN_MS):
        return True
    return any(row.paused or row.lag_ms > REPLICATION_BEHIND_MS
               for row in storage.replication_into(cfg.aws_region))


def leader_down(cfg: Config) -> bool:
    """Whether this region's monitor has not seen the leader healthy for LEADER_DOWN_MS. A
    forward to the leader that failed while the leader answers the monitor is a lost answer
    (the leader may have committed), not a leader that is down: a follower then must not take
    the order itself under acceptWhenLeaderDown, or one key becomes two orders
    (docs/architecture.md, "Regions"). Without a monitor's record the failed forward is all
    there is to go by."""
    status = storage.region_status(cfg.aws_region)
    if status is None or status.leader_seen_ms is None:
        return True
    return status.checked_ms - status.leader_seen_ms > LEADER_DOWN_MS
