"""The scale-out model (bench/model.py, docs/benchmarks.md "Scale-out model"): deterministic for a
seed, throughput that grows with processes up to one process per symbol and is flat beyond,
no symbol faster than FIFO's one in-flight batch per group allows, and no takeover before the
lease (and the batch the dead holder had in flight, if any) has run out."""

from __future__ import annotations

import statistics

import pytest

from bench import model

AWS = model.aws_params()
LOCAL = model.local_params()


def test_same_seed_same_result_and_another_seed_another() -> None:
    first = model.run_throughput(AWS, 4, 2, seed=7, horizon_s=4.0, warmup_s=1.0)
    again = model.run_throughput(AWS, 4, 2, seed=7, horizon_s=4.0, warmup_s=1.0)
    other = model.run_throughput(AWS, 4, 2, seed=8, horizon_s=4.0, warmup_s=1.0)
    assert first == again
    assert first != other
    assert model.run_takeover(AWS, 2.0, seed=3) == model.run_takeover(AWS, 2.0, seed=3)
    local = model.run_throughput(LOCAL, 2, 1, seed=7, horizon_s=3.0, warmup_s=1.0)
    assert local == model.run_throughput(LOCAL, 2, 1, seed=7, horizon_s=3.0, warmup_s=1.0)


def test_throughput_grows_with_processes_until_one_per_symbol_then_stays_flat() -> None:
    symbols = 16
    rates = {p: model.run_throughput(AWS, symbols, p, seed=1, horizon_s=5.0,
                                     warmup_s=1.0).msgs_per_s for p in (1, 2, 4, 16, 32)}
    for fewer, more in ((1, 2), (2, 4), (4, 16)):
        assert rates[more] >= 0.98 * rates[fewer], rates  # never worse beyond noise
    assert rates[16] > 1.5 * rates[1], rates  # one GIL for sixteen shards is the bottleneck
    assert rates[32] == rates[16]  # the sixteen extra processes hold nothing


@pytest.mark.parametrize(("params", "symbols", "processes"),
                         [(AWS, 1, 1), (AWS, 8, 3), (AWS, 16, 2), (LOCAL, 4, 1), (LOCAL, 4, 2)])
def test_no_symbol_beats_one_batch_in_flight_per_group(params: model.Params, symbols: int,
                                                       processes: int) -> None:
    horizon_s, warmup_s = 6.0, 1.0
    result = model.run_throughput(params, symbols, processes, seed=2, horizon_s=horizon_s,
                                  warmup_s=warmup_s)
    assert result.max_inflight == 1
    assert len(result.symbol_rates) == symbols
    window_ms = (horizon_s - warmup_s) * 1000
    for msgs_per_s, cycle_ms in result.symbol_rates:
        # Back-to-back cycles of one batch each: the batches that end in the window fill it,
        # plus the one that began before it (given two cycles' room).
        edge = 1 + 2 * cycle_ms / window_ms
        assert msgs_per_s <= edge * model.BATCH / (cycle_ms / 1000)
    # and no symbol can beat ten messages per sum of the median service latencies at all
    floor_ms = sum(AWS.op(o).latency.median_ms for o in ("recv", "get", "commit", "delete")
                   if AWS.op(o).latency is not None)
    if params is AWS:
        assert result.per_symbol_max < model.BATCH / (floor_ms / 1000)


@pytest.mark.parametrize("ttl_s", [2.0, 5.0])
def test_takeover_waits_for_the_lease_and_the_dead_holders_batch(ttl_s: float) -> None:
    runs = model.takeover_runs(AWS, ttl_s, seed=1, runs=12 if ttl_s > 2 else 20)
    for run in runs:
        # The lease ran its TTL from the dead holder's last renewal, which was at most one
        # keeper period (min(TTL/5, 1 s) plus the tick itself) before the kill.
        assert run.take_s >= 0.75 * ttl_s
        assert run.resume_s > run.take_s
        if run.inflight_age_s > 0:
            # SQS hands the group out again only when the batch the dead holder had in flight
            # is visible again: visibility timeout (= TTL) after SQS handed it out.
            assert run.resume_s >= ttl_s - run.inflight_age_s
            assert run.inflight_age_s < 0.5  # it was in the middle of a cycle
    assert any(run.inflight_age_s > 0 for run in runs)
    assert statistics.median(r.resume_s for r in runs) >= ttl_s
