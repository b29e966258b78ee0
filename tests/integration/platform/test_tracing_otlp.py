"""With OTEL_EXPORTER_OTLP_ENDPOINT set (as on AWS, docs/deploy.md "Traces"), a process sends its
spans over OTLP/HTTP to the collector instead of the local file. Both ends are real processes: a
receiver that stores each POST body, and a process that traces a span and flushes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

REPO = Path(__file__).resolve().parents[3]
RECEIVER = """
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
out = Path(sys.argv[2])
class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        (out / f"{len(list(out.iterdir()))}{self.path.replace('/', '_')}.bin").write_bytes(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
HTTPServer(("127.0.0.1", int(sys.argv[1])), Receiver).serve_forever()
"""
TRACED = """
from tulip import tracing
assert tracing.setup_tracing("otlp-test")
with tracing.span("order.accept", orderId="o-1", qty=3):
    pass
tracing.flush()
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _traced(tmp_path: Path, **env: str) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    result = subprocess.run(
        [sys.executable, "-c", TRACED], cwd=REPO, capture_output=True, text=True, timeout=60,
        env={**base, "TULIP_STATE_DIR": str(tmp_path / "state"), **env}, check=False)
    assert result.returncode == 0, result.stderr


def test_spans_go_to_the_otlp_endpoint_when_one_is_set(tmp_path: Path) -> None:
    port, received = _free_port(), tmp_path / "received"
    received.mkdir()
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER, str(port), str(received)])
    try:
        for _ in range(100):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        _traced(tmp_path, OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{port}")
    finally:
        receiver.terminate()
        receiver.wait(timeout=10)
    bodies = sorted(received.iterdir())
    assert [b.name.split("_", 1)[1] for b in bodies] == ["v1_traces.bin"], bodies
    request = ExportTraceServiceRequest.FromString(bodies[0].read_bytes())
    [resource_spans] = request.resource_spans
    service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert service["service.name"] == "tulipbroker-otlp-test"
    [span] = [s for scope in resource_spans.scope_spans for s in scope.spans]
    assert span.name == "order.accept"
    assert {a.key: a.value for a in span.attributes}["orderId"].string_value == "o-1"
    # An X-Ray trace id: its first 8 hex digits are the epoch second it was made.
    assert abs(int(span.trace_id.hex()[:8], 16) - time.time()) < 300
    assert not (tmp_path / "state" / "traces").exists()  # nothing written locally


def test_without_an_endpoint_spans_stay_in_the_local_file(tmp_path: Path) -> None:
    _traced(tmp_path)
    lines = (tmp_path / "state" / "traces" / "otlp-test.jsonl").read_text().splitlines()
    assert any('"name": "order.accept"' in line for line in lines), lines
