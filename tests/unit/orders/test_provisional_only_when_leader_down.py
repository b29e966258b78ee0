"""acceptWhenLeaderDown lets a follower take an order itself when the forward to the leader
fails, but only once its monitor too has gone two probes without a healthy answer from the
leader: a failed forward while the leader answers the monitor is a lost answer (the leader may
have committed the order), and taking the order then made one idempotency key two orders
(docs/reliability.md, "Known defects"). Before that, the client gets a 503 to retry."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest

from orders import services
from tulip import regions
from tulip.config import load_config

CFG = load_config({"TULIP_ENV": "test", "AWS_REGION": "us-west-2",
                   "TULIP_REGIONS": "us-east-1,us-west-2", "REGION_ROLE": "follower",
                   "LEADER_REGION": "us-east-1"})
FLAG_ON = replace(CFG.feature_flags, accept_when_leader_down=True)
NOW_MS = 1_790_000_000_000


def _monitor(monkeypatch: pytest.MonkeyPatch, leader_seen_ago_ms: int | None) -> None:
    status = None if leader_seen_ago_ms is None else SimpleNamespace(
        checked_ms=NOW_MS, leader_seen_ms=NOW_MS - leader_seen_ago_ms)
    monkeypatch.setattr(regions.storage, "region_status", lambda region: status)


@pytest.mark.parametrize(("seen_ago_ms", "flag", "expected"), [
    (500, True, False),  # the leader answered the monitor half a second ago: a lost answer
    (2_000, True, False),  # two probes' time: not yet
    (2_500, True, True),  # down as the monitor sees it
    (None, True, True),  # no monitor here: the failed forward is all there is to go by
    (10_000, False, False),  # the flag is off
])
def test_provisional_only_when_the_monitor_sees_the_leader_down(
        monkeypatch: pytest.MonkeyPatch, seen_ago_ms: int | None, flag: bool,
        expected: bool) -> None:
    _monitor(monkeypatch, seen_ago_ms)
    monkeypatch.setattr(services.flags, "current_flags",
                        lambda cfg: FLAG_ON if flag else CFG.feature_flags)
    assert services.accepts_provisional(CFG) is expected
