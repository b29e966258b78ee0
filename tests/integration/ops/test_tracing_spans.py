"""Tracing: a process that calls setup_tracing writes X-Ray-id spans (JSON lines) for its DynamoDB
calls (botocore instrumentation) and for its own `span(...)` blocks."""

import json

from tests.integration.ops.ledger_plant import run_manage


def test_projector_writes_xray_spans(ops_stack, tmp_path):
    trace_file = tmp_path / "projector.jsonl"
    db = tmp_path / "db.sqlite3"
    env = dict(ops_stack.env, TULIP_TRACE_FILE=str(trace_file), TULIP_SQLITE_PATH=str(db))
    assert run_manage(ops_stack, "migrate", "--noinput", env=env).returncode == 0
    result = run_manage(ops_stack, "project_streams", "--once", env=env)
    assert result.returncode == 0, result.stderr
    spans = [json.loads(line) for line in trace_file.read_text().splitlines()]
    names = {s["name"] for s in spans}
    assert "projector.pass" in names
    assert any(n.startswith("DynamoDB") for n in names), names
    assert all(s["xrayTraceId"].startswith("1-") and len(s["xrayTraceId"]) == 35 for s in spans)
