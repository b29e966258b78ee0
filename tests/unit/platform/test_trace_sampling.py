"""Trace sampling (tulip/tracing.py): a reservoir per second, then a ratio; whole traces kept or
dropped; the standard OTEL_TRACES_SAMPLER variable replaces the rule."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased

from tulip import tracing


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _sampled(sampler: tracing.ReservoirThenRatio, trace_id: int = 1) -> bool:
    return sampler.should_sample(None, trace_id, "call").decision.is_sampled()


def test_the_reservoir_takes_the_first_traces_of_each_second_and_the_ratio_the_rest() -> None:
    clock = Clock()
    never = tracing.ReservoirThenRatio(3, 0.0, clock=clock)
    assert [_sampled(never) for _ in range(5)] == [True, True, True, False, False]
    clock.now += 0.5  # the same second
    assert not _sampled(never)
    clock.now += 0.5  # the next one
    assert [_sampled(never) for _ in range(4)] == [True, True, True, False]

    always = tracing.ReservoirThenRatio(1, 1.0, clock=clock)
    assert all(_sampled(always) for _ in range(5))


def test_past_the_reservoir_the_ratio_decides_by_trace_id() -> None:
    clock = Clock()
    sampler = tracing.ReservoirThenRatio(0, 0.25, clock=clock)
    kept = sum(_sampled(sampler, trace_id) for trace_id in range(1, 2**64, 2**64 // 4000))
    assert 800 < kept < 1200  # a quarter of 4,000 evenly spread trace ids


def test_a_trace_is_kept_or_dropped_whole() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ParentBased(tracing.ReservoirThenRatio(1, 0.0, clock=Clock())))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("first"), tracer.start_as_current_span("child of first"):
        pass
    # Past the reservoir, at ratio 0: dropped, its child with it.
    with tracer.start_as_current_span("second"), tracer.start_as_current_span("child of second"):
        pass
    assert sorted(span.name for span in exporter.get_finished_spans()) == ["child of first", "first"]


def test_the_standard_variable_replaces_the_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_TRACES_SAMPLER", raising=False)
    rule = tracing.default_sampler()
    assert isinstance(rule, ParentBased)
    assert "ReservoirThenRatio{10/s,0.01}" in rule.get_description()
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_on")
    assert tracing.default_sampler() is None  # the SDK reads the variable itself
