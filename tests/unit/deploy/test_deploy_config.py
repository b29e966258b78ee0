"""deploy/config.py: the defaults the stacks are synthesized with, and the values it refuses."""

from __future__ import annotations

import pytest

from deploy.config import (
    DEFAULT_THRESHOLDS,
    REPLICATION_LATENCY,
    SLO_METRICS,
    DeployConfig,
    Sizes,
    from_context,
)
from ops import gate, metrics_export


def test_defaults() -> None:
    cfg = DeployConfig()
    assert cfg.regions == ("us-east-1", "us-west-2")
    assert cfg.leader_region == "us-east-1"
    assert cfg.symbols == ("TULIP",)
    assert cfg.events_queue("TULIP") == "tulip-events-TULIP.fifo"
    assert cfg.events_queue_template.replace("{symbol}", "ABC") == cfg.events_queue("ABC")
    assert cfg.lease_ttl_s == 5
    assert cfg.sizes.matcher_count >= 2
    assert not cfg.mrsc


def test_every_published_slo_metric_has_an_alarm_threshold() -> None:
    assert set(metrics_export.SLO_NAMES) | {REPLICATION_LATENCY} == set(SLO_METRICS)
    assert set(DEFAULT_THRESHOLDS) == set(SLO_METRICS)
    # The gate's limits are the alarms' limits.
    assert DEFAULT_THRESHOLDS["LatencyP95"].limit == gate.P95_MAX_MS
    assert DEFAULT_THRESHOLDS["Http5xxRate"].limit == gate.ERROR_RATE_MAX_PCT
    assert DEFAULT_THRESHOLDS["DoubleFillViolations"].limit == 0


def test_from_context_parses_cli_strings() -> None:
    cfg = from_context({"regions": "eu-west-1, eu-central-1,us-east-2", "symbols": "TULIP,ABC",
                        "mrsc": "true", "account": "123456789012",
                        "sizes": {"matcher_count": "3"}})
    assert cfg.regions == ("eu-west-1", "eu-central-1", "us-east-2")
    assert cfg.symbols == ("TULIP", "ABC")
    assert cfg.mrsc and cfg.account == "123456789012"
    assert cfg.sizes.matcher_count == 3


@pytest.mark.parametrize("kwargs, message", [
    ({"regions": ()}, "at least one region"),
    ({"regions": ("us-east-1", "us-east-1")}, "listed twice"),
    ({"regions": ("mars-1",)}, "not an AWS region"),
    ({"mrsc": True}, "exactly three regions"),
    ({"mrsc": True, "witness_region": "us-east-1"}, "exactly three regions"),
    ({"witness_region": "us-east-2"}, "only with mrsc"),
    ({"sizes": Sizes(matcher_count=1)}, "at least 2"),
    ({"domain_name": "not a domain"}, "not a domain name"),
])
def test_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DeployConfig(**kwargs)  # type: ignore[arg-type]


def test_mrsc_with_a_witness_or_three_regions() -> None:
    assert DeployConfig(mrsc=True, witness_region="us-east-2").mrsc
    assert DeployConfig(mrsc=True, regions=("us-east-1", "us-east-2", "us-west-2")).mrsc


def test_bad_symbol_is_refused() -> None:
    from tulip.config import ConfigError

    with pytest.raises(ConfigError):
        from_context({"symbols": "tulip"})
