"""Drills on the local stack. Region partitions (docs/runbooks/region-failover.md): `manage.py
partition A B` cuts replication, forwarding and health checks between two regions, `manage.py heal`
restores them. The state is one small file in the stack's state directory, read (at most every
half second) by every process that crosses regions: the replicator, the forwarder, the health
monitors. Refused outside the local stack and the tests: on AWS a partition is an FIS experiment.
Also the list of the stack's child processes (children.json, below), which the chaos panel uses."""

from __future__ import annotations

import json
from pathlib import Path

from tulip.config import Config
from tulip.ttl_cache import TtlCache

CACHE_S = 0.5
FILE = "partitions.json"

_cache: TtlCache[str, frozenset[frozenset[str]]] = TtlCache(CACHE_S)


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
    return _cache.get(str(path), lambda: _read(path))


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
    _cache.clear()


def partition(cfg: Config, a: str, *others: str) -> None:
    """Cut `a` from each of `others` (one write, so an isolated region is cut from all of them at
    the same instant)."""
    if not others or a in others or any(r not in cfg.regions for r in (a, *others)):
        raise ValueError(f"a region and one or more others of {', '.join(cfg.regions)}")
    _write(cfg, partitions(cfg) | {frozenset((a, b)) for b in others})


def heal(cfg: Config) -> None:
    _write(cfg, frozenset())


def unpartition(cfg: Config, a: str, b: str) -> None:
    """Restore one pair only (a chaos experiment's end), leaving any other cut as it is."""
    _write(cfg, partitions(cfg) - {frozenset((a, b))})


# ---------------------------------------------------------------------- the stack's processes
# The local stack's launcher (devstack/launcher.py) keeps `children.json` in the state directory
# current: {"children": {name: pid}} for every child it runs, rewritten (atomically) whenever it
# starts or restarts one. The chaos panel (ops/chaos.py) reads it to stop a matcher process, as
# an orchestrator stops a task; the launcher's supervisor then starts it again. This module owns
# the format: the launcher writes it with write_children, ops reads it with children; neither
# imports the other.
CHILDREN_FILE = "children.json"


def write_children(state_dir: str | Path, pids: dict[str, int]) -> Path:
    path = Path(state_dir) / CHILDREN_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"children": dict(sorted(pids.items()))}), encoding="utf-8")
    temporary.replace(path)
    return path


def children(cfg: Config) -> dict[str, int]:
    """The local stack's running children by name ({} outside the local stack, or none known)."""
    if cfg.environment == "production" or not cfg.is_local_aws:
        return {}
    try:
        data = json.loads((Path(cfg.state_dir) / CHILDREN_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    found = data.get("children") if isinstance(data, dict) else None
    if not isinstance(found, dict):
        return {}
    return {str(name): pid for name, pid in found.items() if isinstance(pid, int) and pid > 1}
