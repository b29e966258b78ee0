"""Assertion Lambda behind the pipeline's Step Functions (docs/rules.md; docs/deploy.md, "Run the
gate"): returns {"pass": true} or {"pass": false, "reasons": [...]}, the same verdict as
`manage.py gate` (ops.gate.evaluate). The function runs the image's `gate` target, which holds the
repository's packages (ops, orders, matching, tulip) and the Lambda runtime interface client.

Its environment carries the same variables as the services (README, "Configuration"). A Lambda
cannot be handed secrets the way an ECS task is, so the few values the production configuration
requires from SSM or Secrets Manager are named in TULIP_ENV_FROM, a JSON object
`{"VARIABLE": "ssm:<parameter ARN>" | "secretsmanager:<secret ARN>"}`, and read once per cold
start (a parameter in another region is read in that region, as its ARN says).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import Any

from ops.gate import DEFAULT_WINDOW_S, evaluate
from tulip.config import Config, ConfigError, load_config

ENV_FROM = "TULIP_ENV_FROM"
GATE_WINDOW_S = 600  # what the state machine asks for: the smoke load's run and a margin
MIN_WINDOW_S, MAX_WINDOW_S = 60, 86_400

# name of a value source -> (service name for boto3, reader(client, arn) -> value)
Reader = Callable[[Any, str], str]
_READERS: dict[str, tuple[str, Reader]] = {
    "ssm": ("ssm", lambda client, arn: str(
        client.get_parameter(Name=arn)["Parameter"]["Value"])),
    "secretsmanager": ("secretsmanager", lambda client, arn: str(
        client.get_secret_value(SecretId=arn)["SecretString"])),
}
_resolved: dict[str, str] | None = None


def _region_of(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[3] if len(parts) > 5 and parts[0] == "arn" and parts[3] else None


def resolve_env_from(env: Mapping[str, str],
                     client_factory: Callable[[str, str | None], Any] | None = None,
                     ) -> dict[str, str]:
    """The variables named in TULIP_ENV_FROM, read from SSM / Secrets Manager. A variable already
    set in `env` is left as it is. Raises ConfigError (naming TULIP_ENV_FROM) on a bad value."""
    raw = env.get(ENV_FROM, "").strip()
    if not raw:
        return {}
    try:
        sources = json.loads(raw)
    except json.JSONDecodeError:
        raise ConfigError(ENV_FROM, "must be a JSON object") from None
    if not isinstance(sources, dict):
        raise ConfigError(ENV_FROM, "must be a JSON object")
    if client_factory is None:
        import boto3

        def client_factory(service: str, region: str | None) -> Any:
            session: Any = boto3.session.Session()
            return session.client(service, region_name=region)

    values: dict[str, str] = {}
    for variable, source in sorted(sources.items()):
        if variable in env:
            continue
        kind, _, arn = str(source).partition(":")
        if kind not in _READERS or not arn.startswith("arn:"):
            raise ConfigError(ENV_FROM, f"{variable}: expected ssm:<arn> or "
                                        f"secretsmanager:<arn>, got {source!r}")
        service, read = _READERS[kind]
        values[variable] = read(client_factory(service, _region_of(arn)), arn)
    return values


def _config() -> Config:
    global _resolved
    if _resolved is None:
        try:
            _resolved = resolve_env_from(os.environ)
        except ConfigError:
            raise
        except Exception as exc:  # SSM / Secrets Manager refused or unreachable: a verdict
            raise ConfigError(ENV_FROM, f"could not be read ({type(exc).__name__})") from None
    return load_config({**os.environ, **_resolved})


def window_of(event: Any) -> int:
    window = DEFAULT_WINDOW_S
    if isinstance(event, dict) and isinstance(event.get("windowS"), int) \
            and not isinstance(event.get("windowS"), bool):
        window = max(MIN_WINDOW_S, min(MAX_WINDOW_S, event["windowS"]))
    return window


def handler(event: Any, context: Any) -> dict[str, Any]:
    try:
        cfg = _config()
    except ConfigError as exc:
        return {"pass": False, "reasons": [str(exc)]}
    return evaluate(cfg, window_of(event))
