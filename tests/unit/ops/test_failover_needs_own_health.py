"""A follower takes over only while it answers its own GET /region in time (ops/regions.py).

Found by the region chaos run at size: the local DynamoDB stand-in, shared by both regions, was
busy with a full-table scan, and both regions' APIs froze for 44 s. The follower found the
leader slow, failed over, and took the shards from a replica that was behind: 118 events off
the canonical history. Slow itself, it had no better claim to lead than the leader it judged.

And a follower judges the leader on the probes it made: a monitor held up itself for longer than
FAILOVER_AFTER_S (the same stand-in busy with the state-hash scans after a chaos run's load) saw
nothing in between, and once it ran again a single slow probe made it fail over from a healthy
leader (docs/reliability.md).
"""

from __future__ import annotations

from typing import Any

import pytest

from ops import regions as monitor
from tulip import regions
from tulip.config import load_config

EAST, WEST = "us-east-1", "us-west-2"
WEST_CFG = load_config({
    "TULIP_ENV": "test", "AWS_REGION": WEST, "TULIP_REGIONS": f"{EAST},{WEST}",
    "REGION_ROLE": "follower", "LEADER_REGION": EAST, "STEP_DOWN_AFTER_S": "3",
    "FAILOVER_AFTER_S": "6", "TULIP_URL_US_EAST_1": "http://127.0.0.1:9",
    "TULIP_URL_US_WEST_2": "http://127.0.0.1:10"})


@pytest.fixture
def failovers(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    written: list[int] = []
    monkeypatch.setattr(monitor.regions, "read",
                        lambda cfg: regions.Leadership(WEST, EAST, 1, False, "record"))
    monkeypatch.setattr(monitor.storage, "put_region_status", lambda status: None)
    monkeypatch.setattr(monitor.storage, "put_leader",
                        lambda record, expected: written.append(record.term) or True)
    return written


def _probes(own_healthy: bool) -> Any:
    def probe(cfg: Any, region: str) -> tuple[bool, bool, int | None]:
        if region == WEST:
            return True, own_healthy, 1
        return True, False, None  # the leader answers, but not in time
    return probe


def test_a_slow_follower_does_not_take_over_from_a_slow_leader(failovers: list[int]) -> None:
    state = monitor.MonitorState(started=0.0)
    for now in (1.0, 4.0, 7.0, 10.0):
        assert monitor.monitor_step(WEST_CFG, state, now, _probes(own_healthy=False)) is None
    assert failovers == []


def test_a_healthy_follower_takes_over_from_a_slow_leader(failovers: list[int]) -> None:
    state = monitor.MonitorState(started=0.0)
    assert monitor.monitor_step(WEST_CFG, state, 1.0, _probes(own_healthy=True)) is None
    assert monitor.monitor_step(WEST_CFG, state, 7.0, _probes(own_healthy=True)) == "failed over"
    assert failovers == [2]


def test_a_monitor_held_up_itself_does_not_take_the_stall_for_an_outage(
        failovers: list[int]) -> None:
    state = monitor.MonitorState(started=0.0)
    slow_leader = _probes(own_healthy=True)

    def healthy_leader(cfg: Any, region: str) -> tuple[bool, bool, int | None]:
        return True, True, 1

    assert monitor.monitor_step(WEST_CFG, state, 1.0, healthy_leader) is None
    # No pass for 8 s (the monitor's own DynamoDB calls stalled), then one slow probe.
    assert monitor.monitor_step(WEST_CFG, state, 9.0, slow_leader) is None
    assert monitor.monitor_step(WEST_CFG, state, 10.0, healthy_leader) is None
    assert failovers == []
    # Slow at two probes in a row, and not healthy for FAILOVER_AFTER_S: an outage.
    for now in (11.0, 12.0, 15.9):
        assert monitor.monitor_step(WEST_CFG, state, now, slow_leader) is None
    assert monitor.monitor_step(WEST_CFG, state, 16.0, slow_leader) == "failed over"
    assert failovers == [2]
