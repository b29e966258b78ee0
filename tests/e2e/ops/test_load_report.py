"""`python -m bench.load --profile smoke --gate` (what `make load` runs) against a running test
stack, shortened to 15 s after a 5 s warm-up: the report (HTML, CSV, summary) is in the stack's
S3 under the key the run printed, the gate judged the run on real metrics (the projector
published them: no metric is missing), and the run's exit status follows its own verdict. No
timing is asserted: whether the gate passes depends on this machine's load; that it answered,
and on what, does not."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.stack import StackHandle, start_stack

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def load_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackHandle]:
    handle = start_stack(tmp_path_factory.mktemp("load-stack"))
    try:
        yield handle
    finally:
        handle.stop()


@pytest.mark.timeout(600)
def test_smoke_run_stores_its_report_in_s3_and_is_judged_by_the_gate(load_stack, tmp_path):
    state_dir = load_stack.stack.options.state_dir
    result = subprocess.run(
        [sys.executable, "-m", "bench.load", "--profile", "smoke", "--seconds", "15",
         "--warmup", "5", "--gate", "--state-dir", str(state_dir)],
        cwd=REPO, capture_output=True, text=True, timeout=480, check=False)
    output = result.stdout + result.stderr
    assert result.returncode in (0, 1), output  # 2: Locust itself failed
    assert "using the running local stack" in result.stdout, output

    found = re.search(r"report: s3://([^/\s]+)/(\S+/)report\.html", result.stdout)
    assert found, output
    bucket, prefix = found.groups()
    assert bucket == load_stack.env["REPORTS_BUCKET"]
    assert prefix.startswith("load-reports/smoke/")
    s3 = load_stack.boto("s3")
    keys = {item["Key"] for item in
            s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])}
    assert {prefix + name for name in ("report.html", "locust_stats.csv",
                                       "locust_stats_history.csv", "summary.json")} <= keys, keys

    html = s3.get_object(Bucket=bucket, Key=prefix + "report.html")["Body"].read().decode()
    assert "Locust" in html
    stats = s3.get_object(Bucket=bucket, Key=prefix + "locust_stats.csv")["Body"].read().decode()
    for name in ("POST /order passive GTC", "POST /order crossing IOC", "POST /cancel",
                 "POST /order retry (same key)", "POST /order bad (4xx expected)"):
        assert name in stats, stats

    summary = json.loads(s3.get_object(Bucket=bucket, Key=prefix + "summary.json")["Body"].read())
    gate = summary["gate"]
    assert isinstance(gate["pass"], bool)
    assert gate["pass"] or gate["reasons"], gate
    assert not any("missing" in reason or "did not answer" in reason
                   for reason in gate.get("reasons", [])), gate
    assert f"{json.dumps(gate)}" in result.stdout

    [step] = summary["steps"]
    assert step["requests"] > 0 and step["accept"]["n"] > 0, step
    subscribers = summary["subscribers"]
    assert subscribers["connects"] >= 2 and subscribers["messages"] > 0, subscribers
    assert subscribers["gaps"] == 0, subscribers
    assert (result.returncode == 0) == (summary["problems"] == []), (summary["problems"], output)
