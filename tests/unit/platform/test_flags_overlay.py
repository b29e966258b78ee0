"""Runtime flag overlay: None keeps the environment's value; injectLatencyMs is ignored in
production; an invalid forceLeader is ignored; an empty one clears it."""

from tulip.config import FeatureFlags
from tulip.flags import overlay

ENV = FeatureFlags(inject_latency_ms=5, force_leader="us-west-2", deny_writes=False)


def test_none_keeps_env():
    assert overlay(ENV, None, None, False, None, "local") == ENV


def test_overrides_apply():
    assert overlay(ENV, 200, "eu-west-1", True, True, "local") == FeatureFlags(200, "eu-west-1", True)
    assert overlay(ENV, None, "", True, None, "local").force_leader is None
    assert overlay(ENV, None, "not a region", True, None, "local").force_leader == "us-west-2"


def test_latency_never_in_production():
    assert overlay(FeatureFlags(), 500, None, False, None, "production").inject_latency_ms == 0
