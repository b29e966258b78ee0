"""Deterministic replay: a fixed-seed log of 25,000 commands always ends in the recorded state.

The log is generated from a local ``random.Random(seed)`` (the test's, never the engine's), so it is
identical on every machine; the recorded hash pins the whole behaviour of the engine on it.  If a
deliberate rule change moves the hash, re-record it (the failure message prints the new value).
"""

from __future__ import annotations

import hashlib
import random

import pytest

from matching.engine import CancelOrder, Command, PlaceOrder, engine_from_snapshot, make_engine

N = 25_000
SEED = 20240604
RECORDED = {
    "book": (
        "ac31845400aca483e75d6fc4307ef1e749b6ef10ca9213beb6cd437ee2a47479",
        "fd9989457bf774cf0acaf2161989f800ed470bffbf42b822c372edec320bdf29",
    ),
    "simfill": (
        "6980810511b7be648a1a79ec8153f611a7872f931ecb32f4ca98e7fd539fb324",
        "70537d870610cebb9f5f85b880f927ec8cf948212316f13cf7d779078f91aadd",
    ),
}


def command_log(seed: int = SEED, n: int = N) -> list[Command]:
    rng = random.Random(seed)
    out: list[Command] = []
    ids: list[tuple[str, str]] = []
    for i in range(n):
        r = rng.random()
        if r < 0.12 and ids:
            oid, client = ids[rng.randrange(len(ids))]
            out.append(CancelOrder(oid, client, i))
            continue
        if r < 0.14 and ids:
            out.append(next(c for c in reversed(out[-50:]) if isinstance(c, PlaceOrder)))  # redelivery
            continue
        side = "BUY" if rng.random() < 0.5 else "SELL"
        mid = 10_000
        off = rng.randint(-8, 12)
        price = mid - off if side == "BUY" else mid + off
        client = f"c{rng.randrange(12)}"
        oid = f"o{i}"
        tif = rng.choices(["GTC", "IOC", "FOK"], [80, 15, 5])[0]
        stp = rng.choice([None, None, None, "cancel_oldest", "cancel_both"])
        out.append(
            PlaceOrder(
                oid, client, side, price, rng.randint(1, 20), i, tif, rng.random() < 0.05, stp, f"k{i}"
            )
        )  # type: ignore[arg-type]
        ids.append((oid, client))
    return out


def digest(kind: str, log: list[Command], restart_at: int | None = None) -> tuple[str, str]:
    engine = make_engine(kind, "TULIP")
    h = hashlib.sha256()
    for i, cmd in enumerate(log):
        if i == restart_at:
            engine = engine_from_snapshot(engine.snapshot())
        res = engine.apply(cmd)
        h.update(repr(res).encode())
    return engine.state_hash(), h.hexdigest()


@pytest.mark.parametrize("kind", ["book", "simfill"])
def test_replay_of_the_same_log_gives_the_recorded_hash(kind: str) -> None:
    log = command_log()
    first = digest(kind, log)
    assert first == digest(kind, log), "the same log twice must give the same state and events"
    assert first == RECORDED[kind], f"state/events hash changed: {first}"


def test_restart_midway_gives_the_same_events_and_state() -> None:
    log = command_log(n=8_000)
    assert digest("book", log) == digest("book", log, restart_at=4_000)


@pytest.mark.compiled
def test_compiled_and_interpreted_engines_agree() -> None:
    """When the optional mypyc build is present, the source fallback must give identical results."""
    import os
    import subprocess
    import sys

    from matching.engine import COMPILED

    if not COMPILED:
        pytest.skip("no compiled engine present (make engine-compiled)")
    code = (
        "from tests.property.test_replay import command_log, digest;"
        "import matching.engine.book as b; assert b.__file__.endswith('.py');"
        "print(digest('book', command_log(n=5000)), digest('simfill', command_log(n=5000)))"
    )
    env = dict(os.environ, TULIP_ENGINE_PURE="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    here = f"{digest('book', command_log(n=5000))} {digest('simfill', command_log(n=5000))}"
    assert out.stdout.strip() == here
