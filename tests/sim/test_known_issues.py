"""Product defects the simulation found (docs/reliability.md, "Known defects"). Each test states
what should hold over the CI seeds and fails today (strict xfail): when the product is fixed the
test passes, pytest reports XPASS as a failure, and the marker (and the tolerance in tests/sim)
must go. The tests scan every CI seed rather than pin one: any change to the code moves which
seeds show a defect, never whether some do."""

from __future__ import annotations

import pytest

from tests.sim.conftest import CI_SEEDS
from tests.sim.run import Scenario, run_seed


@pytest.mark.xfail(strict=True, reason="the matcher rebuilds its book from the openOrders GSI, "
                   "which DynamoDB updates asynchronously: an order that came to rest just before "
                   "a rejected commit is missing from the rebuilt book (it never matches; a later "
                   "crossing order can leave a crossed book that no rebuild accepts)")
def test_a_rebuild_from_a_lagging_index_keeps_every_resting_order() -> None:
    failing = [r for r in (run_seed(s, profile="stale_reads") for s in range(CI_SEEDS))
               if not r.ok]
    assert not failing, f"{len(failing)} seed(s), the first:\n{failing[0].report()}"


# The defect shows in about one seed in seventy, none of them among the CI seeds: this test
# scans further, and stops at the first seed that shows it.
STALE_DECISION_SEEDS = 1_000


@pytest.mark.xfail(strict=True, reason="a user cancel is final in DynamoDB at once, but the "
                   "matcher's book keeps the order until the CancelRequested is sequenced: "
                   "self-trade prevention, post-only and FOK can still judge new orders against "
                   "it where no write touches it (a fill of it is refused by the commit)")
def test_a_cancelled_order_decides_nothing_more() -> None:
    for seed in range(STALE_DECISION_SEEDS):
        result = run_seed(seed, strict=True)
        assert result.ok, f"seed {seed}:\n{result.report()}"


@pytest.mark.xfail(strict=True, reason="a follower forwards POST /order to the leader and, under "
                   "acceptWhenLeaderDown, takes the order itself when the forward fails; a lost "
                   "response or a stopped leader API server is taken for an unreachable leader, "
                   "so a key the leader already accepted is accepted again in the follower: the "
                   "client holds two orderIds for one idempotency key until reconciliation "
                   "cancels one (it cannot once that one has traded)")
def test_a_key_is_acknowledged_as_one_order_across_regions() -> None:
    seeds = [s for s in range(CI_SEEDS) if Scenario.draw(s).regions is not None]
    for seed in seeds:
        result = run_seed(seed, strict_keys=True)
        assert result.ok, f"seed {seed} of {len(seeds)} with regions:\n{result.report()}"
