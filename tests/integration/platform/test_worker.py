"""The Celery worker the launcher starts really consumes from SQS (the moto server)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.stack import StackHandle

REPO = Path(__file__).resolve().parents[3]
SEND = """
import json, os, sys
from tulip.celery import app
result = app.send_task("tulip.ping", args=[sys.argv[1]])
print(json.dumps(result.get(timeout=60)))
"""


def test_task_round_trip_through_sqs(stack: StackHandle) -> None:
    result = subprocess.run([sys.executable, "-c", SEND, "token-42"], cwd=REPO, env=stack.env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["token"] == "token-42"
    assert answer["pid"] == stack.stack.pids()["worker"]
