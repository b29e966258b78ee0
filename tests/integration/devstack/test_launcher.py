"""The launcher `make run` uses: it brings the stack up, writes .tulip/local.env, and on Ctrl-C or
SIGTERM stops every process it started, leaving none behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from devstack.launcher import free_port
from tulip.config import read_env_file

REPO = Path(__file__).resolve().parents[3]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by a parent) is not running anything.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        children_file = Path(f"/proc/{parent}/task/{parent}/children")
        try:
            children = {int(p) for p in children_file.read_text().split()}
        except FileNotFoundError:
            children = set()
        frontier.extend(children - found)
        found |= children
    return found


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_launcher_starts_everything_and_leaves_nothing(tmp_path: Path, stop_signal: int) -> None:
    port = free_port()
    env = dict(os.environ, TULIP_STATE_DIR=str(tmp_path), PYTHONUNBUFFERED="1")
    env.pop("REDIS_URL", None)  # exercise the embedded Redis fallback a fresh machine would use
    env.pop("DATABASE_URL", None)
    stale_drill = tmp_path / "partitions.json"  # an earlier run's partition drill, never healed
    stale_drill.write_text('{"pairs": [["us-east-1", "us-west-2"]]}')
    launcher = subprocess.Popen([sys.executable, "-m", "devstack", "--port", str(port),
                                 "--json"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    summary: dict[str, object] = {}
    try:
        assert launcher.stdout is not None
        deadline = time.monotonic() + 180
        for line in launcher.stdout:
            output.append(line)
            if line.startswith("{"):
                summary = json.loads(line)
            if "Ctrl-C stops everything" in line or time.monotonic() > deadline:
                break
        assert summary, "".join(output)
        assert not stale_drill.exists()  # a fresh stack starts whole
        text = "".join(output)
        assert "TOKEN_ALICE=" in text and "TOKEN_BOB=" in text and "TOKEN_OPS=" in text
        token = text.split("TOKEN_ALICE=")[1].split()[0]
        response = httpx.get(f"http://127.0.0.1:{port}/readyz",
                             headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert response.status_code == 200, response.text
        local_env = read_env_file(tmp_path / "local.env")
        assert local_env["PORT"] == str(port)
        assert local_env["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
        assert {"moto", "redis", "http", "worker"} <= set(summary["pids"])  # type: ignore[arg-type]
        # The first five minutes (README): `source .tulip/tokens.env` gives a shell the tokens.
        tokens_env = tmp_path / "tokens.env"
        assert tokens_env.stat().st_mode & 0o077 == 0  # bearer credentials: the owner's only
        sourced = subprocess.run(["bash", "-c", f"source {tokens_env} && curl -s -o /dev/null "
                                  f"-w '%{{http_code}}' -H \"Authorization: Bearer $TOKEN_ALICE\" "
                                  f"$TULIP_URL/orders && test -n \"$TOKEN_BOB\" -a -n \"$TOKEN_OPS\""],
                                 capture_output=True, text=True, timeout=30, check=False)
        assert sourced.returncode == 0 and sourced.stdout == "200", sourced
        assert "Ops console login: ops / " in text and f"source {tokens_env}" in text
        # The chaos panel's view of the children (tulip/drills.py owns the format).
        children = json.loads((tmp_path / "children.json").read_text())["children"]
        assert children["http"] == summary["pids"]["http"]  # type: ignore[index]
        started = _descendants(launcher.pid)
        assert len(started) >= 4
        assert all(_alive(pid) for pid in summary["pids"].values())  # type: ignore[union-attr]

        launcher.send_signal(stop_signal)
        rest, _ = launcher.communicate(timeout=60)
        output.append(rest)
        assert launcher.returncode == 0, "".join(output)
        assert "stopped." in rest
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_alive(pid) for pid in started):
        time.sleep(0.1)
    assert [pid for pid in started if _alive(pid)] == []
    for written in ("local.env", "tokens.env", "children.json"):
        assert not (tmp_path / written).exists(), written


def test_devtoken_prints_only_a_valid_token(tmp_path: Path) -> None:
    from tests.support.stack import start_stack

    handle = start_stack(tmp_path / "stack", with_worker=False, with_http=True)
    try:
        env = dict(handle.env, TULIP_ENV="local")
        result = subprocess.run([sys.executable, "manage.py", "devtoken", "carol"], cwd=REPO,
                                env=env, capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, result.stderr
        token = result.stdout.strip()
        assert token.count(".") == 2 and "\n" not in token
        response = httpx.get(f"{handle.url}/orders", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200  # a new user gets the traders group
    finally:
        handle.stop()


def test_devtoken_refuses_real_aws(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
    env.update(TULIP_ENV="test", COGNITO_USER_POOL_ID="us-east-1_Real1",
               COGNITO_APP_CLIENT_ID="abc", TULIP_STATE_DIR=str(tmp_path))
    result = subprocess.run([sys.executable, "manage.py", "devtoken", "alice"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0
    assert "refusing" in result.stderr
    assert result.stdout == ""


def _read_until(launcher: subprocess.Popen[str], marker: str, output: list[str],
                timeout: float) -> None:
    assert launcher.stdout is not None
    deadline = time.monotonic() + timeout
    for line in launcher.stdout:
        output.append(line)
        if marker in line:
            return
        if time.monotonic() > deadline:
            break
    raise AssertionError(f"{marker!r} not seen:\n{''.join(output)}")


def test_launcher_restarts_a_dead_child_and_stops_when_moto_dies(tmp_path: Path) -> None:
    """`make run` supervises as an orchestrator would: kill -9 of a matcher process or of the
    API server is followed by a restart (with a backoff, printed), the rest keeps serving, and
    the killed matcher's shard is held again; the moto server holds the stack's state, so its
    death stops the stack with one line saying why."""
    port = free_port()
    env = dict(os.environ, TULIP_STATE_DIR=str(tmp_path), PYTHONUNBUFFERED="1",
               TULIP_SYMBOLS="SUPA,SUPB", MATCHER_LEASE_TTL_S="2")
    launcher = subprocess.Popen([sys.executable, "-m", "devstack", "--port", str(port),
                                 "--json", "--matchers", "2"], cwd=REPO, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    try:
        _read_until(launcher, "Ctrl-C stops everything", output, 180)
        text = "".join(output)
        summary = json.loads(next(line for line in output if line.startswith("{")))
        pids: dict[str, int] = summary["pids"]
        assert {"matcher-1", "matcher-2"} <= set(pids), pids
        assert "Shards (2 matcher process(es)" in text and "SUPA" in text, text
        for victim in ("matcher-1", "http"):
            os.kill(pids[victim], signal.SIGKILL)
            _read_until(launcher, f"{victim} restarted", output, 60)
        assert "matcher-1 exited (-9); restarting in 1s" in "".join(output)
        deadline = time.monotonic() + 60
        shards: list[dict[str, object]] = []
        while time.monotonic() < deadline:
            try:
                shards = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).json()["shards"]
                if all(s["holder"] for s in shards):
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        assert [s["symbol"] for s in shards] == ["SUPA", "SUPB"] and all(
            s["holder"] for s in shards), shards
        os.kill(pids["moto"], signal.SIGKILL)
        rest, _ = launcher.communicate(timeout=60)
        output.append(rest)
        assert launcher.returncode == 1, "".join(output)
        assert "moto exited (-9); it holds the stack's state, so the stack stops" in rest
        assert "stopped." in rest
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()
