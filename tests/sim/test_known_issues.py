"""Product defects the simulation found and that are not fixed (docs/reliability.md, "Known
defects"). Each test states what should hold over the CI seeds and fails today (strict xfail):
when the product is fixed the test passes, pytest reports XPASS as a failure, and the marker (and
the tolerance in tests/sim) must go. The tests scan every CI seed rather than pin one: any change
to the code moves which seeds show a defect, never whether some do."""

from __future__ import annotations

import pytest

from tests.sim.conftest import CI_SEEDS
from tests.sim.run import Scenario, run_seed


@pytest.mark.xfail(strict=True, reason="under acceptWhenLeaderDown a follower takes POST /order "
                   "itself once the forward fails and its monitor has seen the leader down for "
                   "2 s; an order the leader committed just before a partition, its answer lost, "
                   "is then accepted again in the follower when the client retries there: two "
                   "orderIds for one idempotency key until reconciliation cancels one (it cannot "
                   "once that one has traded)")
def test_a_key_is_acknowledged_as_one_order_across_regions() -> None:
    seeds = [s for s in range(CI_SEEDS) if Scenario.draw(s).regions is not None]
    for seed in seeds:
        result = run_seed(seed, strict_keys=True)
        assert result.ok, f"seed {seed} of {len(seeds)} with regions:\n{result.report()}"
