"""MATCHER=simfill runs the phase-1 simulator through exactly the same pipeline and still honours
the ledger invariants (docs/rules.md, SimFill: it must keep recordings valid)."""

from __future__ import annotations

from pathlib import Path

from tests.support.ledger import assert_ledger, orders, trades, wait_until_matched
from tests.support.stack import start_stack
from tests.support.trading import Trader


def test_simfill_pipeline_keeps_the_invariants(tmp_path: Path) -> None:
    handle = start_stack(tmp_path / "stack", symbols="SIM", matcher="simfill")
    try:
        alice, bob = Trader(handle), Trader(handle)
        placed = [alice.place("SIM", "BUY", 5, f"{100 + i}.00") for i in range(6)]
        placed += [bob.place("SIM", "SELL", 3, "99.00", tif="IOC") for _ in range(3)]
        wait_until_matched(handle, [p["orderId"] for p in placed])
        states = {o["status"]["S"] for o in orders(handle, "SIM").values()}
        assert states <= {"OPEN", "PARTIALLY_FILLED", "FILLED", "CANCELLED"}
        assert "ACCEPTED" not in states
        legs = {t[leg]["S"] for t in trades(handle, "SIM") for leg in ("buyOrderId", "sellOrderId")}
        # Nine orders each with a ~60 % chance of a simulated fill: the simulator really ran.
        assert any(leg.startswith("sim:") for leg in legs)
        assert_ledger(handle, "SIM")
    finally:
        handle.stop()
