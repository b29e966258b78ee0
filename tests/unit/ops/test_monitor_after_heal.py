"""A deposed leader must not lead again when a partition heals before the new leadership record
has reached its replica (found by the region chaos run, tests/chaos/run.py --regions).

The sequence on real processes: us-east-1 is cut off, steps down; us-west-2 fails over (term 2).
At the heal us-east-1's monitor sees us-west-2 again, but its own replica still holds the term-1
record naming itself (replication after a heal takes seconds under load). It stepped up, and for
those seconds its matchers took shards under term 1 and its sweeper rewrote orders: writes
newer than the new leader's, so last-writer-wins rolled decided orders back in both regions and
the next failover forked the canonical history hundreds of events back. A peer that answers
with a newer term says this region no longer leads: it stays stepped down until the record
arrives and it follows."""

from __future__ import annotations

from typing import Any

import pytest

from ops import regions as monitor
from tulip import regions
from tulip.config import load_config

EAST, WEST = "us-east-1", "us-west-2"
CFG = load_config({"TULIP_ENV": "test", "AWS_REGION": EAST, "TULIP_REGIONS": f"{EAST},{WEST}",
                   "REGION_ROLE": "leader", "LEADER_REGION": EAST, "STEP_DOWN_AFTER_S": "3",
                   "FAILOVER_AFTER_S": "6"})


class Replica:
    """This region's view: the leadership record (term 1, naming itself) and its monitor's
    status, as regions.read and storage see them."""

    def __init__(self) -> None:
        self.stepped_down = False

    def read(self, cfg: Any) -> regions.Leadership:
        return regions.Leadership(EAST, EAST, 1, self.stepped_down, "record")

    def put_region_status(self, status: Any) -> None:
        self.stepped_down = bool(status.stepped_down)


@pytest.fixture
def replica(monkeypatch: pytest.MonkeyPatch) -> Replica:
    found = Replica()
    monkeypatch.setattr(monitor.regions, "read", found.read)
    monkeypatch.setattr(monitor.storage, "put_region_status", found.put_region_status)
    monkeypatch.setattr(monitor.storage, "put_leader", lambda *a: pytest.fail("no failover here"))
    return found


def _isolated(cfg: Any, region: str) -> tuple[bool, bool, int | None]:
    return False, False, None


def test_a_deposed_leader_stays_down_while_a_peer_reports_a_newer_term(replica: Replica) -> None:
    state = monitor.MonitorState(started=0.0)
    assert monitor.monitor_step(CFG, state, 0.5, _isolated) is None
    assert monitor.monitor_step(CFG, state, 4.0, _isolated) == "stepped down"

    def healed_newer(cfg: Any, region: str) -> tuple[bool, bool, int | None]:
        return True, True, 2  # us-west-2 answers again: it leads under term 2

    for now in (10.0, 11.0, 12.0):
        assert monitor.monitor_step(CFG, state, now, healed_newer) is None
        assert replica.stepped_down, "stepped up under a term another region has superseded"


def test_a_leader_steps_up_again_when_its_peer_reports_its_own_term(replica: Replica) -> None:
    state = monitor.MonitorState(started=0.0)
    monitor.monitor_step(CFG, state, 4.0, _isolated)
    assert replica.stepped_down

    def healed_same(cfg: Any, region: str) -> tuple[bool, bool, int | None]:
        return True, True, 1  # a partition that no failover followed

    assert monitor.monitor_step(CFG, state, 10.0, healed_same) == "stepped up"
    assert not replica.stepped_down


def test_a_lost_probe_after_the_heal_does_not_let_the_deposed_leader_lead(
        replica: Replica) -> None:
    """Simulation seed 1639: the first probe after the heal reported term 2; the next one was
    lost. With the term forgotten between passes, that pass saw a leader that was neither
    isolated (a peer seen 2 s ago) nor outranked, and stepped up until the term-2 record
    arrived: its sweeper's write then rolled the new leader's fill back, last writer wins."""
    state = monitor.MonitorState(started=0.0)
    monitor.monitor_step(CFG, state, 4.0, _isolated)
    assert replica.stepped_down
    assert monitor.monitor_step(CFG, state, 10.0, lambda c, r: (True, True, 2)) is None
    for now in (11.0, 12.0):  # lost probes, fewer than STEP_DOWN_AFTER_S since the last answer
        assert monitor.monitor_step(CFG, state, now, _isolated) is None
        assert replica.stepped_down, "stepped up between two probes of a newer term"


def test_a_failover_without_any_leadership_record_asks_for_none(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A deployment whose stack wrote no leadership record leads by its configuration (term 1).
    The follower's failover must then write the first record on "no record yet", not on
    "term == 1", a condition a missing item never meets."""
    west = load_config({"TULIP_ENV": "test", "AWS_REGION": WEST, "TULIP_REGIONS": f"{EAST},{WEST}",
                        "REGION_ROLE": "follower", "LEADER_REGION": EAST, "STEP_DOWN_AFTER_S": "3",
                        "FAILOVER_AFTER_S": "6"})
    written: list[tuple[int, int | None]] = []
    monkeypatch.setattr(monitor.regions, "read",
                        lambda cfg: regions.Leadership(WEST, EAST, 1, False, "configuration", False))
    monkeypatch.setattr(monitor.storage, "put_region_status", lambda status: None)
    monkeypatch.setattr(monitor.storage, "put_leader",
                        lambda record, expected: written.append((record.term, expected)) or True)

    def leader_gone(cfg: Any, region: str) -> tuple[bool, bool, int | None]:
        return False, False, None

    state = monitor.MonitorState(started=0.0)
    assert monitor.monitor_step(west, state, 1.0, leader_gone) is None
    assert monitor.monitor_step(west, state, 7.0, leader_gone) == "failed over"
    assert written == [(2, None)]


def test_a_leadership_learned_at_the_heal_gets_its_full_failover_time(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The other half of the heal (the region chaos run at size): us-east-1 was deposed while
    cut off; at the heal the term-2 record naming us-west-2 arrives. us-east-1 last saw
    us-west-2 healthy before the cut, long past FAILOVER_AFTER_S: it failed over to itself at
    once (term 3) whenever the first probes after the heal were slow, and led beside us-west-2
    for the seconds replication then took."""
    record = {"leadership": regions.Leadership(EAST, EAST, 1, True, "record")}
    monkeypatch.setattr(monitor.regions, "read", lambda cfg: record["leadership"])
    monkeypatch.setattr(monitor.storage, "put_region_status", lambda status: None)
    failovers: list[int] = []
    monkeypatch.setattr(monitor.storage, "put_leader",
                        lambda item, term: failovers.append(item.term) or True)

    def slow(cfg: Any, region: str) -> tuple[bool, bool, int | None]:
        return True, False, None  # answers, but not healthy in time: a loaded region

    def healthy(cfg: Any, region: str) -> tuple[bool, bool, int | None]:
        return True, True, 2

    state = monitor.MonitorState(started=0.0)
    monitor.monitor_step(CFG, state, 1.0, healthy)  # before the cut: us-west-2 seen healthy
    record["leadership"] = regions.Leadership(EAST, WEST, 2, False, "record")  # at the heal
    for now in (20.0, 21.0, 22.0, 25.9):
        assert monitor.monitor_step(CFG, state, now, slow) is None
    assert failovers == []
    # Still unhealthy FAILOVER_AFTER_S after it became the leader here: a real outage.
    assert monitor.monitor_step(CFG, state, 26.0, slow) == "failed over" and failovers == [3]
