"""Configuration (README.md): good values parse, every bad one names its variable in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tulip.config import ConfigError, env_file_name, load_config, local_env_path

REPO = Path(__file__).resolve().parents[3]
PRODUCTION = {
    "TULIP_ENV": "production",
    "DJANGO_SECRET_KEY": "x" * 40,
    "DJANGO_ALLOWED_HOSTS": "api.example.com",
    "ORDERS_TABLE": "orders",
    "TRADES_TABLE": "trades",
    "EVENTS_FIFO_URL": "https://sqs.us-east-1.amazonaws.com/123/tulip-events-{symbol}.fifo",
    "COGNITO_USER_POOL_ID": "us-east-1_AbC123",
    "COGNITO_APP_CLIENT_ID": "client123",
    "REDIS_URL": "rediss://cache.example.com:6379/0",
    "AWS_REGION": "us-east-1",
}


def test_local_defaults_need_nothing() -> None:
    cfg = load_config({})
    assert cfg.environment == "local"
    assert cfg.symbols == ("TULIP",)
    assert cfg.matcher == "book"
    assert cfg.region_role == "leader"
    assert cfg.feature_flags.deny_writes is False


def test_production_config_parses() -> None:
    cfg = load_config(PRODUCTION)
    assert cfg.cognito_jwks_url == (
        "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC123/.well-known/jwks.json")
    assert cfg.cognito_issuer == "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC123"
    assert not cfg.is_local_aws


def test_availability_zone_is_recorded_only_when_named() -> None:
    assert load_config({}).availability_zone is None
    assert load_config({"AWS_REGION": "eu-west-1",
                        "AVAILABILITY_ZONE": "eu-west-1b"}).availability_zone == "eu-west-1b"


def test_feature_flags_parse() -> None:
    cfg = load_config({"FEATURE_FLAGS": '{"injectLatencyMs":200,"forceLeader":"us-west-2",'
                                        '"denyWrites":true}'})
    assert cfg.feature_flags.inject_latency_ms == 200
    assert cfg.feature_flags.force_leader == "us-west-2"
    assert cfg.feature_flags.deny_writes is True


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"REGION_ROLE": "boss"}, "REGION_ROLE"),
        ({"MATCHER": "magic"}, "MATCHER"),
        ({"TULIP_ENV": "staging"}, "TULIP_ENV"),
        ({"FEATURE_FLAGS": "{not json"}, "FEATURE_FLAGS"),
        ({"FEATURE_FLAGS": "[]"}, "FEATURE_FLAGS"),
        ({"FEATURE_FLAGS": '{"denyWrites":"yes"}'}, "FEATURE_FLAGS"),
        ({"FEATURE_FLAGS": '{"injectLatencyMs":-1}'}, "FEATURE_FLAGS"),
        ({"FEATURE_FLAGS": '{"surprise":1}'}, "FEATURE_FLAGS"),
        ({"FEATURE_FLAGS": '{"forceLeader":"moon"}'}, "FEATURE_FLAGS"),
        ({"TULIP_SYMBOLS": "TULIP,bad sym"}, "TULIP_SYMBOLS"),
        ({"TULIP_SYMBOLS": "TULIP,TULIP"}, "TULIP_SYMBOLS"),
        ({"PORT": "eighty"}, "PORT"),
        ({"PORT": "70000"}, "PORT"),
        ({"AWS_REGION": "mars"}, "AWS_REGION"),
        ({"AWS_ENDPOINT_URL": "ftp://x"}, "AWS_ENDPOINT_URL"),
        ({"REDIS_URL": "http://x"}, "REDIS_URL"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"ORDERS_TABLE": "bad name!"}, "ORDERS_TABLE"),
        ({"COGNITO_USER_POOL_ID": "nounderscore"}, "COGNITO_USER_POOL_ID"),
        ({"DJANGO_DEBUG": "maybe"}, "DJANGO_DEBUG"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"AVAILABILITY_ZONE": "us-east-1"}, "AVAILABILITY_ZONE"),
        # One queue per symbol (docs/architecture.md, "Routing"): a single queue is refused.
        ({"EVENTS_FIFO_URL": "http://127.0.0.1:1/000000000000/events.fifo"}, "EVENTS_FIFO_URL"),
        ({"MATCHER_LEASE_TTL_S": "1"}, "MATCHER_LEASE_TTL_S"),
        ({"MATCHER_MAX_SHARDS": "0"}, "MATCHER_MAX_SHARDS"),
        ({"AVAILABILITY_ZONE": "us-west-2a"}, "AVAILABILITY_ZONE"),  # not a zone of us-east-1
    ],
)
def test_malformed_variable_is_named(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(env)
    assert caught.value.variable == variable
    assert variable in str(caught.value)


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "ORDERS_TABLE", "EVENTS_FIFO_URL",
                                     "COGNITO_USER_POOL_ID", "REDIS_URL"])
def test_production_requires(missing: str) -> None:
    env = dict(PRODUCTION)
    del env[missing]
    with pytest.raises(ConfigError) as caught:
        load_config(env)
    assert caught.value.variable == missing


def test_production_refuses_test_only_flags_and_local_endpoint() -> None:
    with pytest.raises(ConfigError, match="test-only"):
        load_config(dict(PRODUCTION, FEATURE_FLAGS='{"injectLatencyMs":5}'))
    with pytest.raises(ConfigError) as caught:
        load_config(dict(PRODUCTION, AWS_ENDPOINT_URL="http://127.0.0.1:5000"))
    assert caught.value.variable == "AWS_ENDPOINT_URL"


@pytest.mark.parametrize(
    ("env", "variable"),
    [({"REGION_ROLE": "boss"}, "REGION_ROLE"), ({"FEATURE_FLAGS": "{"}, "FEATURE_FLAGS")],
)
@pytest.mark.parametrize("entry", [["manage.py", "check"],
                                   ["-c", "import tulip.asgi"]])
def test_process_stops_with_one_line(env: dict[str, str], variable: str, entry: list[str]) -> None:
    """A real process start: exit code 2 and exactly one stderr line naming the variable."""
    child_env = {k: v for k, v in os.environ.items() if k not in ("REGION_ROLE", "FEATURE_FLAGS")}
    child_env.update(env, TULIP_ENV="test", DJANGO_SETTINGS_MODULE="tulip.settings")
    result = subprocess.run([sys.executable, *entry], cwd=REPO, env=child_env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert variable in lines[0]
    assert "Traceback" not in result.stderr


def test_a_local_process_reads_the_file_of_the_region_it_names(tmp_path: Path) -> None:
    regions = ("us-east-1", "us-west-2", "eu-west-1")
    for region in regions[:2]:
        (tmp_path / env_file_name(region, regions)).write_text(f"AWS_REGION={region}\n")
    assert env_file_name("us-east-1", regions) == "local.env"
    assert local_env_path(tmp_path, {}) == tmp_path / "local.env"
    assert local_env_path(tmp_path, {"AWS_REGION": "us-west-2"}) == tmp_path / "local.us-west-2.env"
    # A region the launcher wrote no file for (not started, or the first) falls back.
    assert local_env_path(tmp_path, {"AWS_REGION": "eu-west-1"}) == tmp_path / "local.env"
