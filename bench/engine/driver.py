"""The event consumer of the benchmark's compiled-engine row, (a').

Every row of ``make bench-engine`` is driven by the same interpreted loop, one call per message
into the engine under test; what differs is who turns that engine's output into the traded
quantity, fill checksum and cancel count every row must reproduce.  The bare book (b) does it
inline, liquibook (c) in Python callbacks (its binding's only way out), the interpreted engine (a)
in the loop itself.  For the compiled engine that loop would mostly measure CPython reading
attributes of compiled objects (a getset call and often an int allocation per field, several
times what reading a slotted dataclass costs), so (a') calls ``step`` instead: a typed function
that ``bench/engine/build_mypyc.py`` compiles into the engine's own mypyc group, which applies the
command and reads every event of the result natively.  The engine still builds every event and
L2 delta; only the reading is compiled.  Row (a'-py) keeps the interpreted reader on the compiled
engine, to show what an interpreted consumer pays.

Interpreted (no build, or ``TULIP_ENGINE_PURE=1``) this module is ordinary Python and gives the
same tallies; a test checks both.
"""

from __future__ import annotations

from matching.engine.book import BookEngine
from matching.engine.messages import Command, OrderCancelled, TradeExecuted


class Tally:
    """What every engine must reproduce: traded qty, fill checksum, cancels."""

    def __init__(self) -> None:
        self.volume = 0
        self.checksum = 0  # sum of (message index + 1) * fill qty * fill price
        self.cancels = 0  # user cancels that removed an open order + IOC remainders

    def result(self) -> tuple[int, int, int]:
        return self.volume, self.checksum, self.cancels


def step(engine: BookEngine, cmd: Command, i: int, tally: Tally) -> None:
    """Apply message ``i`` and fold every event of its result into ``tally``."""
    for ev in engine.apply(cmd).events:
        if isinstance(ev, TradeExecuted):
            q = ev.qty
            tally.volume += q
            tally.checksum += (i + 1) * q * ev.price
        elif isinstance(ev, OrderCancelled):
            tally.cancels += 1
