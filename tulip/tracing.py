"""Tracing (docs/rules.md, "Observability and service levels"): OpenTelemetry with AWS X-Ray
trace ids and propagation, spans around DynamoDB/SQS (botocore instrumentation), Redis (redis
instrumentation) and whatever code wraps itself in `span(...)` (the matcher loop, the projector).

Locally the spans go to a JSON-lines file under the state dir (`$TULIP_STATE_DIR/traces/
<service>.jsonl`, or TULIP_TRACE_FILE), one span per line, so they are visible without a
collector. When `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) is set, as on AWS where
each task runs the ADOT collector beside it (docs/deploy.md, "Traces"), the spans go there instead
over OTLP/HTTP (protobuf), and the collector hands them to X-Ray: a container's disk is no place
for an ever-growing file. Setup is idempotent and never fails the process: no tracing is better
than no service.

Sampling follows X-Ray's default rule: each process traces the first TRACE_RESERVOIR_PER_S
traces of every second and TRACE_RATIO of the rest, and a span follows its parent's decision (a
trace is kept or dropped whole). At a developer's pace every call is traced; under load the
exported spans stop growing with the rate (an exported span costs its process ~54 us of CPU, one
sampled out ~9 us: `make bench-tracing`). The standard `OTEL_TRACES_SAMPLER` variable (with
`OTEL_TRACES_SAMPLER_ARG`) replaces the rule, e.g. `always_on` where every span must be seen (the
test suite sets it: tests count spans).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger("tulip.tracing")

_lock = threading.Lock()
_configured: str | None = None

# X-Ray's default rule's shape (per process): a reservoir per second, then a fixed ratio. Without a
# server span each AWS or Redis call is a trace of its own, so the reservoir is a few of them.
# docs/deploy.md's cost model counts X-Ray at this ratio.
TRACE_RESERVOIR_PER_S = 10
TRACE_RATIO = 0.01

try:
    from opentelemetry import propagate, trace
    from opentelemetry.propagators.aws import AwsXRayPropagator
    from opentelemetry.sdk.extension.aws.trace import AwsXRayIdGenerator
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
    from opentelemetry.sdk.trace.sampling import (
        Decision,
        ParentBased,
        Sampler,
        SamplingResult,
        TraceIdRatioBased,
    )

    _AVAILABLE = True
except ImportError:  # requirements-ops.txt not installed: spans become no-ops
    _AVAILABLE = False


def trace_path(service_name: str) -> Path:
    explicit = os.environ.get("TULIP_TRACE_FILE")
    if explicit:
        return Path(explicit)
    state = Path(os.environ.get("TULIP_STATE_DIR", str(Path(__file__).resolve().parents[1] /
                                                       ".tulip")))
    return state / "traces" / f"{service_name}.jsonl"


if _AVAILABLE:

    class JsonLinesExporter(SpanExporter):
        """One JSON object per finished span, appended to a file (thread-safe)."""

        def __init__(self, path: Path) -> None:
            self.path = path
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lock = threading.Lock()

        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            lines = []
            for item in spans:
                context = item.get_span_context()
                if context is None:
                    continue
                trace_id = f"{context.trace_id:032x}"
                lines.append(json.dumps({
                    "name": item.name,
                    # X-Ray form: 1-<8 hex epoch>-<24 hex>, as the X-Ray console shows it.
                    "xrayTraceId": f"1-{trace_id[:8]}-{trace_id[8:]}",
                    "traceId": trace_id, "spanId": f"{context.span_id:016x}",
                    "parentId": f"{item.parent.span_id:016x}" if item.parent else None,
                    "service": item.resource.attributes.get("service.name"),
                    "start": item.start_time, "end": item.end_time,
                    "durationMs": round(((item.end_time or 0) - (item.start_time or 0)) / 1e6, 3),
                    "status": item.status.status_code.name,
                    "attributes": {k: _plain(v) for k, v in (item.attributes or {}).items()},
                }, default=str))
            if lines:
                with self._lock, open(self.path, "a", encoding="utf-8") as handle:
                    handle.write("\n".join(lines) + "\n")
            return SpanExportResult.SUCCESS

        def shutdown(self) -> None:
            return None


    class ReservoirThenRatio(Sampler):
        """The first `per_second` traces of each second (monotonic clock), then `ratio` of the
        rest (the shape of X-Ray's default sampling rule, kept per process)."""

        def __init__(self, per_second: int, ratio: float,
                     clock: Callable[[], float] = time.monotonic) -> None:
            assert per_second >= 0 and 0.0 <= ratio <= 1.0
            self._per_second = per_second
            self._ratio = TraceIdRatioBased(ratio)
            self._clock = clock
            self._lock = threading.Lock()
            self._second = -1
            self._taken = 0

        def _reserve(self) -> bool:
            second = int(self._clock())
            with self._lock:
                if second != self._second:
                    self._second, self._taken = second, 0
                if self._taken < self._per_second:
                    self._taken += 1
                    return True
                return False

        def should_sample(self, parent_context: Any, trace_id: int, name: str,
                          kind: Any = None, attributes: Any = None, links: Any = None,
                          trace_state: Any = None) -> SamplingResult:
            if self._reserve():
                return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes, None)
            return self._ratio.should_sample(parent_context, trace_id, name, kind, attributes,
                                             links, trace_state)

        def get_description(self) -> str:
            return f"ReservoirThenRatio{{{self._per_second}/s,{self._ratio.rate}}}"


def default_sampler() -> Any:
    """None (the SDK reads OTEL_TRACES_SAMPLER) when that variable is set, else X-Ray's rule."""
    if os.environ.get("OTEL_TRACES_SAMPLER"):
        return None
    return ParentBased(ReservoirThenRatio(TRACE_RESERVOIR_PER_S, TRACE_RATIO))


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def setup_tracing(service_name: str) -> bool:
    """Install the tracer provider once per process. True when tracing is active."""
    global _configured
    if not _AVAILABLE or os.environ.get("TULIP_TRACING", "on").lower() in ("0", "off", "false"):
        return False
    with _lock:
        if _configured is not None:
            return True
        try:
            provider = TracerProvider(
                resource=Resource.create({"service.name": f"tulipbroker-{service_name}"}),
                id_generator=AwsXRayIdGenerator(), sampler=default_sampler())
            provider.add_span_processor(BatchSpanProcessor(
                _exporter(service_name), schedule_delay_millis=1000))
            trace.set_tracer_provider(provider)
            propagate.set_global_textmap(AwsXRayPropagator())
            _instrument()
        except Exception:  # tracing must never take the service down
            log.exception("tracing setup failed; continuing without spans")
            return False
        _configured = service_name
        return True


OTLP_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


def _exporter(service_name: str) -> SpanExporter:
    """OTLP/HTTP to the collector when an endpoint is configured, the local file otherwise. The
    OTLP exporter reads its endpoint, headers and timeout from the standard OTEL_* variables."""
    if any(os.environ.get(name) for name in OTLP_ENDPOINT_VARIABLES):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    return JsonLinesExporter(trace_path(service_name))


def _instrument() -> None:
    with contextlib.suppress(ImportError):
        from opentelemetry.instrumentation.botocore import BotocoreInstrumentor

        BotocoreInstrumentor().instrument()  # type: ignore[no-untyped-call]  # DynamoDB, SQS
    with contextlib.suppress(ImportError):
        from opentelemetry.instrumentation.redis import RedisInstrumentor

        RedisInstrumentor().instrument()


def flush() -> None:
    if _AVAILABLE:
        provider = trace.get_tracer_provider()
        force = getattr(provider, "force_flush", None)
        if force is not None:
            force()


@contextlib.contextmanager
def span(name: str, **attrs: Any) -> Iterator[Any]:
    """A span around a block (no-op without tracing). Attribute values: str, bool, int, float."""
    if not _AVAILABLE:
        yield None
        return
    tracer = trace.get_tracer("tulipbroker")
    with tracer.start_as_current_span(name) as current:
        for key, value in attrs.items():
            if value is not None:
                current.set_attribute(key, value if isinstance(value, str | bool | int | float)
                                      else str(value))
        yield current
