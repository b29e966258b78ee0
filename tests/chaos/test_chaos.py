"""Chaos with real processes (tests/chaos/run.py): a supervised stack under trading load while
matcher processes, the ASGI server, the Celery worker and the stack's own Redis are killed with
SIGKILL and latency is injected; then the checker (tests/chaos/checker.py) over the history of
every request and answer and the state of record must find nothing.

The short run is part of `make test`; the big one (>= 50 matcher kills) is `make chaos`, which
prints the same figures from `python -m tests.chaos.run`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos.run import BIG, REGION_EPISODES, SHORT, Plan, Result, run, with_regions
from tests.support.drill import EAST, WEST


def _run_and_check(plan: Plan, tmp_path: Path) -> Result:
    result = run(plan, tmp_path / "chaos")
    print(result.render())
    figures = result.figures
    # The faults happened, each as often as planned, and the supervisor brought every victim back.
    assert figures["kills"] == {"matcher": plan.matcher_kills, "api": plan.api_kills,
                                "worker": plan.worker_kills, "redis": plan.redis_restarts}, figures
    assert figures["faults"]["latency window"] == plan.latency_windows, figures
    assert figures["restarts"].get("matcher", 0) >= plan.matcher_kills, figures
    for name in ("http", "worker", "redis"):
        assert figures["restarts"].get(name, 0) >= 1, figures
    # Clients met the faults and retried with their keys; duplicates were sent.
    assert figures["retries"] > 0 and figures["duplicates"] > 0, figures
    assert result.report.orders_acked > 0 and result.report.trades > 0
    if plan.region_faults:
        # Every partition was followed by an automatic failover and a heal, every planned
        # failover happened, and each reconcile ran in the new leader's region.
        partitions = plan.region_faults.count("partition")
        assert figures["faults"].get("partition") == partitions, figures
        assert figures["faults"].get("heal") == partitions, figures
        assert figures["faults"].get("failover (automatic)") == partitions, figures
        assert figures["faults"].get("failover (planned)") == plan.region_faults.count(
            "failover"), figures
        assert len(figures["reconciles"]) == partitions + 1, figures
    assert result.ok, result.report.summary()
    return result


def test_short_chaos_run(tmp_path: Path) -> None:
    """>= 10 matcher kills, one kill each of the API server, the worker and Redis, one latency
    window, under load; zero violations."""
    assert SHORT.matcher_kills >= 10
    _run_and_check(SHORT, tmp_path)


@pytest.mark.chaos
@pytest.mark.timeout(3600)
def test_big_chaos_run(tmp_path: Path) -> None:
    """`make chaos` at size: >= 50 matcher kills and every other fault several times."""
    assert BIG.matcher_kills >= 50
    _run_and_check(BIG, tmp_path)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_short_region_chaos_run(tmp_path: Path) -> None:
    """Two regions: the short run's kills, plus a partition of the leader region (automatic
    failover, heal, reconcile) and a planned fail-back, under load; zero violations across the
    fork (tests/chaos/checker.py follows the canonical chain and the Reconciled compensations)."""
    _run_and_check(with_regions(SHORT, (EAST, WEST), REGION_EPISODES["short"]), tmp_path)


@pytest.mark.chaos
@pytest.mark.timeout(3600)
def test_big_region_chaos_run(tmp_path: Path) -> None:
    """`make chaos REGIONS=us-east-1,us-west-2` at size."""
    _run_and_check(with_regions(BIG, (EAST, WEST), REGION_EPISODES["big"]), tmp_path)
