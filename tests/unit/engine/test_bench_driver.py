"""The benchmark's compiled event consumer counts exactly what the interpreted one counts.

Row (a') of ``make bench-engine`` reads events through ``bench/engine/driver.py`` compiled with the
engine; this pins that it folds the same events into the same totals as the interpreted loop of
row (a) and as the bare book, on the source build and, when present, on the compiled one.
"""

from __future__ import annotations

import pytest

from bench.engine import adapters, driver
from bench.engine.streams import make_stream

N = 6_000


@pytest.mark.parametrize("stream", ["growing", "bounded"])
def test_step_driver_tallies_like_the_python_loop_and_the_bare_book(stream: str) -> None:
    msgs = make_stream(stream, N)
    expected = adapters.prepare_bare(msgs)(None)
    assert adapters.prepare_engine(msgs)(None) == expected
    engine = driver.BookEngine("BENCH")
    tally = driver.Tally()
    for i, cmd in enumerate(adapters._engine_commands(msgs)):
        driver.step(engine, cmd, i, tally)
    assert tally.result() == expected


@pytest.mark.compiled
def test_compiled_step_driver_when_the_mypyc_build_is_in_use() -> None:
    try:
        adapters.load_compiled_driver()
    except ImportError as exc:
        pytest.skip(str(exc))
    msgs = make_stream("bounded", N)
    assert adapters.prepare_engine_step(msgs)(None) == adapters.prepare_bare(msgs)(None)
