"""Reconciliation's fixes append a Reconciled event under the shard's epoch, fenced by it: with
several regions, only the leader region may write, and only under an epoch of its own term. A
fix begun in a region that a failover had just deposed wrote a seq the new leader wrote too
(simulation seed 1202)."""

from __future__ import annotations

from typing import Any

import pytest

from ops import services
from ops.checks import FindingData
from tulip import regions
from tulip.config import load_config
from tulip.schema import TERM_EPOCHS, ShardItem

EAST, WEST = "us-east-1", "us-west-2"
CFG = load_config({"TULIP_ENV": "test", "AWS_REGION": EAST, "TULIP_REGIONS": f"{EAST},{WEST}",
                   "REGION_ROLE": "leader", "LEADER_REGION": EAST})
FINDING = FindingData(kind="filled_qty_mismatch", key="filled_qty_mismatch:o1", symbol="ROSE",
                      expected="2", actual="0", order_ids=("o1",))


class Store:
    def __init__(self, epoch: int) -> None:
        self.epoch = epoch
        self.appended = 0

    def shard(self, symbol: str) -> ShardItem:
        return ShardItem.from_raw_data({"pk": {"S": "SHARD#ROSE"}, "sk": {"S": "SHARD#ROSE"},
                                        "epoch": {"N": str(self.epoch)}, "lastSeq": {"N": "3"}})

    def append(self, plan: Any) -> int:
        self.appended += 1
        raise AssertionError("a refused fix must write nothing")


def _leading(monkeypatch: pytest.MonkeyPatch, leader: str, term: int) -> None:
    monkeypatch.setattr(services.regions, "read",
                        lambda cfg: regions.Leadership(EAST, leader, term, False, "record"))


@pytest.mark.parametrize(("leader", "term", "epoch"), [
    (WEST, 2, 2 * TERM_EPOCHS + 1),  # deposed: us-west-2 leads now
    (EAST, 3, 2 * TERM_EPOCHS + 1),  # leads again, but its matchers have not taken the shard yet
])
def test_a_fix_where_this_region_may_not_write_is_refused(
        monkeypatch: pytest.MonkeyPatch, leader: str, term: int, epoch: int) -> None:
    _leading(monkeypatch, leader, term)
    store = Store(epoch)
    outcome = services.fix_finding(CFG, store, FINDING, 1)  # type: ignore[arg-type]
    assert outcome == {"key": FINDING.key, "ok": False, "action": services.NOT_LEADER_ACTION}
    assert store.appended == 0


def test_the_leader_under_its_own_epoch_may_write(monkeypatch: pytest.MonkeyPatch) -> None:
    _leading(monkeypatch, EAST, 3)
    assert services._writes_here(CFG, Store(3 * TERM_EPOCHS + 1).shard("ROSE"))
    assert services._writes_here(load_config({"TULIP_ENV": "test"}), None)  # one region
