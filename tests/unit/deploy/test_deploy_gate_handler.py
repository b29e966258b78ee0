"""deploy/lambdas/gate_handler.py: the pipeline gate's assertion Lambda (the same verdict as
`manage.py gate`), its configuration from the environment and TULIP_ENV_FROM."""

from __future__ import annotations

import json
from typing import Any

import pytest

from deploy.lambdas import gate_handler
from tulip.config import Config, ConfigError

PRODUCTION = {
    "TULIP_ENV": "production", "AWS_REGION": "us-west-2", "ORDERS_TABLE": "tulip-orders",
    "TRADES_TABLE": "tulip-trades",
    "EVENTS_FIFO_URL": "https://sqs.us-west-2.amazonaws.com/1/tulip-events-{symbol}.fifo",
    "REDIS_URL": "rediss://cache:6380/0", "DJANGO_ALLOWED_HOSTS": "api.tulip.example.com",
}
POOL_ARN = "arn:aws:ssm:us-east-1:111122223333:parameter/tulip/cognito/user-pool-id"
CLIENT_ARN = "arn:aws:ssm:us-east-1:111122223333:parameter/tulip/cognito/app-client-id"
SECRET_ARN = "arn:aws:secretsmanager:us-west-2:111122223333:secret:DjangoSecretKey-abc"


class FakeClients:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None, str]] = []

    def __call__(self, service: str, region: str | None) -> Any:
        clients = self

        class Client:
            def get_parameter(self, Name: str) -> dict[str, Any]:
                clients.calls.append((service, region, Name))
                value = "us-east-1_Pool01" if Name == POOL_ARN else "client-1"
                return {"Parameter": {"Value": value}}

            def get_secret_value(self, SecretId: str) -> dict[str, Any]:
                clients.calls.append((service, region, SecretId))
                return {"SecretString": "s" * 50}

        return Client()


_resolve = gate_handler.resolve_env_from


def gate_handler_resolve(env: Any, clients: FakeClients) -> dict[str, str]:
    return _resolve({**env_from(), **env}, clients)


def env_from() -> dict[str, str]:
    return {gate_handler.ENV_FROM: json.dumps({
        "COGNITO_USER_POOL_ID": f"ssm:{POOL_ARN}", "COGNITO_APP_CLIENT_ID": f"ssm:{CLIENT_ARN}",
        "DJANGO_SECRET_KEY": f"secretsmanager:{SECRET_ARN}"})}


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gate_handler, "_resolved", None)


def test_env_from_is_read_in_the_region_each_arn_names() -> None:
    clients = FakeClients()
    values = gate_handler.resolve_env_from(env_from(), clients)
    assert values == {"COGNITO_USER_POOL_ID": "us-east-1_Pool01",
                      "COGNITO_APP_CLIENT_ID": "client-1", "DJANGO_SECRET_KEY": "s" * 50}
    assert sorted(clients.calls) == sorted([("ssm", "us-east-1", POOL_ARN),
                                           ("ssm", "us-east-1", CLIENT_ARN),
                                           ("secretsmanager", "us-west-2", SECRET_ARN)])


def test_a_variable_already_set_is_not_read() -> None:
    clients = FakeClients()
    values = gate_handler.resolve_env_from({**env_from(), "DJANGO_SECRET_KEY": "x" * 40},
                                           clients)
    assert "DJANGO_SECRET_KEY" not in values
    assert all(service == "ssm" for service, _, _ in clients.calls)


@pytest.mark.parametrize("raw", ["not json", "[1]", json.dumps({"X": "vault:arn:aws:x"}),
                                 json.dumps({"X": "ssm:not-an-arn"})])
def test_bad_env_from_is_a_config_error(raw: str) -> None:
    with pytest.raises(ConfigError, match=gate_handler.ENV_FROM):
        gate_handler.resolve_env_from({gate_handler.ENV_FROM: raw}, FakeClients())


def test_handler_evaluates_the_production_config(monkeypatch: pytest.MonkeyPatch) -> None:
    clients = FakeClients()
    monkeypatch.setattr(gate_handler, "resolve_env_from",
                        lambda env: gate_handler_resolve(env, clients))
    for name, value in PRODUCTION.items():
        monkeypatch.setenv(name, value)
    seen: dict[str, Any] = {}

    def evaluate(cfg: Config, window: int) -> dict[str, Any]:
        seen.update(cfg=cfg, window=window)
        return {"pass": True}

    monkeypatch.setattr(gate_handler, "evaluate", evaluate)
    assert gate_handler.handler({"windowS": 600}, None) == {"pass": True}
    assert seen["window"] == 600
    cfg = seen["cfg"]
    assert cfg.environment == "production" and cfg.aws_region == "us-west-2"
    assert cfg.orders_table == "tulip-orders"


def test_a_configuration_error_is_a_failing_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TULIP_ENV", "production")
    monkeypatch.delenv("EVENTS_FIFO_URL", raising=False)
    monkeypatch.delenv(gate_handler.ENV_FROM, raising=False)
    verdict = gate_handler.handler({}, None)
    assert verdict["pass"] is False
    assert verdict["reasons"][0].startswith("configuration error: ")


def test_an_unreadable_source_is_a_failing_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(env: Any) -> dict[str, str]:
        raise RuntimeError("AccessDenied")

    monkeypatch.setattr(gate_handler, "resolve_env_from", refuse)
    verdict = gate_handler.handler({}, None)
    assert verdict == {"pass": False, "reasons": [
        f"configuration error: {gate_handler.ENV_FROM}: could not be read (RuntimeError)"]}


@pytest.mark.parametrize("event, window", [
    ({}, gate_handler.DEFAULT_WINDOW_S), (None, gate_handler.DEFAULT_WINDOW_S),
    ({"windowS": 10}, 60), ({"windowS": 10**9}, 86_400), ({"windowS": 600}, 600),
    ({"windowS": True}, gate_handler.DEFAULT_WINDOW_S),
    ({"windowS": "600"}, gate_handler.DEFAULT_WINDOW_S),
])
def test_window_is_clamped(event: Any, window: int) -> None:
    assert gate_handler.window_of(event) == window
