"""The container's entry point (Dockerfile: `python -m deploy.container.start <role|command>`).

It completes the environment the way tulip/config.py expects it, then replaces itself with the
process (os.execvp):
- AVAILABILITY_ZONE from the ECS task metadata endpoint v4, when the task has one and the
  variable is not set (recorded as acceptedAz/fillAz; docs/rules.md);
- REDIS_URL from REDIS_HOST/REDIS_PORT/REDIS_AUTH_TOKEN (TLS: rediss://) and DATABASE_URL from
  DB_HOST/DB_PORT/DB_NAME/DB_USER/DB_PASSWORD, when those are given and the URL is not: ECS hands
  the password and token over as separate secrets.

Roles (README, "Pointing it at real AWS"): web, worker, matcher, projector; metrics publishes the
SLO metrics every minute (a sidecar sharing PROMETHEUS_MULTIPROC_DIR); migrate. Anything else is
run as given (the smoke load: `python -m load ...`). Standard library only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from pathlib import Path
from urllib.parse import quote

MIGRATE_ATTEMPTS = 5
METRICS_INTERVAL_S = 60

ROLES: dict[str, list[str]] = {
    "web": ["uvicorn", "tulip.asgi:application", "--host", "0.0.0.0", "--port", "{PORT}",
            "--proxy-headers", "--forwarded-allow-ips", "*", "--no-server-header"],
    "worker": ["celery", "-A", "tulip", "worker", "-B", "--loglevel", "INFO"],
    "matcher": ["celery", "-A", "tulip", "worker", "-Q", "matching-control", "-c", "1",
                "--pool", "solo", "--matcher"],
    "projector": [sys.executable, "manage.py", "project_streams"],
    "migrate": [sys.executable, "manage.py", "migrate", "--noinput"],
}


def availability_zone(env: Mapping[str, str],
                      fetch: Callable[[str], bytes] | None = None) -> str | None:
    """The task's zone from the ECS task metadata endpoint v4, or None (not on ECS, or the
    endpoint did not answer: the zone is then simply not recorded)."""
    base = env.get("ECS_CONTAINER_METADATA_URI_V4", "").strip()
    if not base:
        return None
    if fetch is None:
        def fetch(url: str) -> bytes:
            with urllib.request.urlopen(url, timeout=2) as response:
                body: bytes = response.read()
                return body
    try:
        zone = json.loads(fetch(f"{base}/task")).get("AvailabilityZone")
    except (OSError, ValueError, AttributeError):
        return None
    return zone if isinstance(zone, str) and zone else None


def redis_url(env: Mapping[str, str]) -> str | None:
    host = env.get("REDIS_HOST", "").strip()
    if not host:
        return None
    token = env.get("REDIS_AUTH_TOKEN", "")
    credentials = f":{quote(token, safe='')}@" if token else ""
    return f"rediss://{credentials}{host}:{env.get('REDIS_PORT', '6379').strip()}/0"


def database_url(env: Mapping[str, str]) -> str | None:
    host = env.get("DB_HOST", "").strip()
    if not host:
        return None
    user = quote(env.get("DB_USER", ""), safe="")
    password = quote(env.get("DB_PASSWORD", ""), safe="")
    return (f"postgres://{user}:{password}@{host}:{env.get('DB_PORT', '5432').strip()}/"
            f"{env.get('DB_NAME', 'tulip').strip()}")


def complete_environment(env: MutableMapping[str, str],
                         fetch: Callable[[str], bytes] | None = None) -> None:
    if not env.get("AVAILABILITY_ZONE"):
        zone = availability_zone(env, fetch)
        if zone:
            env["AVAILABILITY_ZONE"] = zone
    for name, build in (("REDIS_URL", redis_url), ("DATABASE_URL", database_url)):
        if not env.get(name):
            value = build(env)
            if value:
                env[name] = value
    for name in ("TULIP_STATE_DIR", "PROMETHEUS_MULTIPROC_DIR"):
        if env.get(name):
            Path(env[name]).mkdir(parents=True, exist_ok=True)


def command_for(argv: Sequence[str], env: Mapping[str, str]) -> list[str]:
    """The process to exec: a role's command, or argv itself."""
    if not argv:
        raise SystemExit(f"usage: start <{'|'.join(sorted((*ROLES, 'metrics')))}|command...>")
    role = ROLES.get(argv[0])
    if role is None:
        return list(argv)
    port = env.get("PORT", "8000").strip() or "8000"
    return [part.replace("{PORT}", port) for part in role] + list(argv[1:])


def migrate(run: Callable[[list[str]], int] | None = None,
            sleep: Callable[[float], None] = time.sleep) -> None:
    """Django's migrations before the web tier starts. Two tasks starting together may race; the
    loser's attempt fails and its retry finds nothing left to do."""
    run = run or (lambda command: subprocess.call(command))
    for attempt in range(1, MIGRATE_ATTEMPTS + 1):
        if run(ROLES["migrate"]) == 0:
            return
        sleep(min(2.0 * attempt, 10.0))
    raise SystemExit("start: migrations failed; not starting the web tier")


def publish_metrics_forever(run: Callable[[list[str]], int] | None = None,
                            sleep: Callable[[float], None] = time.sleep,
                            rounds: int | None = None) -> None:
    run = run or (lambda command: subprocess.call(command))
    done = 0
    while rounds is None or done < rounds:
        sleep(METRICS_INTERVAL_S)
        run([sys.executable, "manage.py", "publish_metrics"])  # a failed round is logged only
        done += 1


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    complete_environment(os.environ)
    if args[:1] == ["metrics"]:
        publish_metrics_forever()
        return
    command = command_for(args, os.environ)
    if args[:1] == ["web"] and os.environ.get("TULIP_MIGRATE", "1") != "0":
        migrate()
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
