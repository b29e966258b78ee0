"""The image: deploy/container/start.py (the entry point that completes the environment and
picks the process) and a static reading of the Dockerfile (no Docker engine here)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from deploy.container import start

REPO = Path(__file__).resolve().parents[3]


def test_zone_from_the_task_metadata_endpoint() -> None:
    urls: list[str] = []

    def fetch(url: str) -> bytes:
        urls.append(url)
        return json.dumps({"AvailabilityZone": "us-west-2b", "TaskARN": "arn:x"}).encode()

    env = {"ECS_CONTAINER_METADATA_URI_V4": "http://169.254.170.2/v4/abc"}
    assert start.availability_zone(env, fetch) == "us-west-2b"
    assert urls == ["http://169.254.170.2/v4/abc/task"]


@pytest.mark.parametrize("env, body", [
    ({}, b"{}"),
    ({"ECS_CONTAINER_METADATA_URI_V4": "http://x"}, b"not json"),
    ({"ECS_CONTAINER_METADATA_URI_V4": "http://x"}, b"[]"),
    ({"ECS_CONTAINER_METADATA_URI_V4": "http://x"}, b'{"AvailabilityZone": ""}'),
])
def test_no_zone_when_not_on_ecs_or_unreadable(env: dict[str, str], body: bytes) -> None:
    assert start.availability_zone(env, lambda url: body) is None


def test_unreachable_metadata_endpoint_means_no_zone() -> None:
    def fetch(url: str) -> bytes:
        raise OSError("timed out")

    assert start.availability_zone({"ECS_CONTAINER_METADATA_URI_V4": "http://x"}, fetch) is None


def test_environment_is_completed_without_overriding() -> None:
    env = {"ECS_CONTAINER_METADATA_URI_V4": "http://x", "REDIS_HOST": "cache.local",
           "REDIS_PORT": "6380", "REDIS_AUTH_TOKEN": "t/k@n", "DB_HOST": "db.local",
           "DB_PORT": "5433", "DB_NAME": "tulip", "DB_USER": "tulip", "DB_PASSWORD": "p@ss:w/d"}
    start.complete_environment(env, lambda url: b'{"AvailabilityZone": "us-east-1a"}')
    assert env["AVAILABILITY_ZONE"] == "us-east-1a"
    assert env["REDIS_URL"] == "rediss://:t%2Fk%40n@cache.local:6380/0"
    assert env["DATABASE_URL"] == "postgres://tulip:p%40ss%3Aw%2Fd@db.local:5433/tulip"
    kept = {"AVAILABILITY_ZONE": "us-east-1c", "REDIS_URL": "redis://mine", "REDIS_HOST": "x",
            "ECS_CONTAINER_METADATA_URI_V4": "http://x"}
    start.complete_environment(kept, lambda url: b'{"AvailabilityZone": "us-east-1a"}')
    assert kept["AVAILABILITY_ZONE"] == "us-east-1c" and kept["REDIS_URL"] == "redis://mine"
    assert "DATABASE_URL" not in kept


def test_roles_are_the_readme_commands() -> None:
    env = {"PORT": "8000"}
    assert start.command_for(["web"], env)[:2] == ["uvicorn", "tulip.asgi:application"]
    assert start.command_for(["worker"], env)[:5] == ["celery", "-A", "tulip", "worker", "-B"]
    assert start.command_for(["matcher"], env) == [
        "celery", "-A", "tulip", "worker", "-Q", "matching-control", "-c", "1", "--pool", "solo",
        "--matcher"]
    assert start.command_for(["projector"], env)[1:] == ["manage.py", "project_streams"]
    assert "8000" in start.command_for(["web"], env)
    assert start.command_for(["python", "-m", "load", "--profile", "smoke"], env) == [
        "python", "-m", "load", "--profile", "smoke"]
    with pytest.raises(SystemExit):
        start.command_for([], env)


def test_migrations_are_retried_then_refused() -> None:
    outcomes = iter([1, 0])
    sleeps: list[float] = []
    start.migrate(lambda command: next(outcomes), sleeps.append)
    assert sleeps == [2.0]
    with pytest.raises(SystemExit, match="migrations failed"):
        start.migrate(lambda command: 1, lambda seconds: None)


def test_metrics_publisher_runs_every_minute() -> None:
    commands: list[list[str]] = []
    sleeps: list[float] = []
    start.publish_metrics_forever(lambda command: commands.append(command) or 1, sleeps.append,
                                  rounds=3)
    assert sleeps == [60, 60, 60]
    assert all(command[1:] == ["manage.py", "publish_metrics"] for command in commands)


# ------------------------------------------------------------------------------ Dockerfile
def _stages() -> list[list[str]]:
    text = (REPO / "Dockerfile").read_text()
    logical = re.sub(r"\\\n", " ", text)
    instructions = [line.strip() for line in logical.splitlines()
                    if line.strip() and not line.strip().startswith("#")]
    stages: list[list[str]] = []
    for instruction in instructions:
        if instruction.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def test_base_image_is_pinned_and_never_latest() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert "latest" not in text.lower()
    images = [stage[0].split()[1] for stage in _stages()]
    names = {stage[0].split()[-1] for stage in _stages()}
    external = [image for image in images if image not in names]
    assert external
    for image in external:
        assert re.fullmatch(r"[\w./-]+(:\d+\.\d+\.\d+[\w.-]*)?(@sha256:[0-9a-f]{64})?", image), image
        assert "@sha256:" in image or re.search(r":\d+\.\d+\.\d+", image), image
        assert "slim" in image


def test_every_stage_runs_as_a_non_root_user() -> None:
    user = None
    for stage in _stages():
        parent = stage[0].split()[1]
        for instruction in stage:
            if instruction.upper().startswith("USER "):
                user = instruction.split()[1]
        assert user not in (None, "root", "0"), (parent, user)


def test_pip_installs_with_the_constraints() -> None:
    for stage in _stages():
        for instruction in stage:
            if "pip install" in instruction:
                assert "-c " in instruction and "constraints.txt" in instruction, instruction
                assert "-r " in instruction, instruction


def test_default_stage_starts_the_web_tier_through_the_start_script() -> None:
    last = _stages()[-1]
    assert last[0].endswith(" AS service")
    assert 'CMD ["web"]' in last
    base = _stages()[0]
    assert 'ENTRYPOINT ["python", "-m", "deploy.container.start"]' in base


def test_dockerignore_keeps_state_and_secrets_out() -> None:
    ignored = set((REPO / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".tulip", "deploy/cdk.out", "tests"} <= ignored
