"""Region partition drills on the local stack (docs/runbooks/region-failover.md): `manage.py
partition A B` cuts replication, forwarding and health checks between two regions, `manage.py heal`
restores them. The state is one small file in the stack's state directory, read (at most every
half second) by every process that crosses regions: the replicator, the forwarder, the health
monitors. Refused outside the local stack and the tests: on AWS a partition is an FIS experiment."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from tulip.config import Config

CACHE_S = 0.5
FILE = "partitions.json"

_lock = threading.Lock()
_cache: dict[str, tuple[float, frozenset[frozenset[str]]]] = {}


class DrillRefused(RuntimeError):
    """A drill was asked for outside the local stack."""


def _path(cfg: Config) -> Path:
    return Path(cfg.state_dir) / FILE


def _read(path: Path) -> frozenset[frozenset[str]]:
    try:
        pairs = json.loads(path.read_text(encoding="utf-8")).get("pairs", [])
    except (FileNotFoundError, ValueError, AttributeError):
        return frozenset()
    return frozenset(frozenset(p) for p in pairs if isinstance(p, list) and len(p) == 2)


def partitions(cfg: Config) -> frozenset[frozenset[str]]:
    if cfg.environment == "production":
        return frozenset()
    path = _path(cfg)
    now = time.monotonic()
    with _lock:
        cached = _cache.get(str(path))
    if cached is not None and now - cached[0] < CACHE_S:
        return cached[1]
    pairs = _read(path)
    with _lock:
        _cache[str(path)] = (now, pairs)
    return pairs


def partitioned(cfg: Config, a: str, b: str) -> bool:
    return frozenset((a, b)) in partitions(cfg)


def _write(cfg: Config, pairs: frozenset[frozenset[str]]) -> None:
    if cfg.environment == "production" or not cfg.is_local_aws:
        raise DrillRefused("partition drills run on the local stack only (on AWS: FIS)")
    path = _path(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"pairs": sorted(sorted(p) for p in pairs)}),
                         encoding="utf-8")
    temporary.replace(path)  # atomic: readers see the old or the new list, never half of one
    with _lock:
        _cache.clear()


def partition(cfg: Config, a: str, b: str) -> None:
    if a == b or a not in cfg.regions or b not in cfg.regions:
        raise ValueError(f"two different regions of {', '.join(cfg.regions)}")
    _write(cfg, partitions(cfg) | {frozenset((a, b))})


def heal(cfg: Config) -> None:
    _write(cfg, frozenset())
