"""The mypyc build marks the engine's classes acyclic (untracked by the GC) and pools per-command ones."""

from __future__ import annotations

import ast
import gc

import pytest

from bench.engine.build_mypyc import BOOK_ATTRS, MESSAGE_ATTRS, add_class_attrs
from matching.engine import COMPILED, CancelOrder, PlaceOrder, make_engine

SAMPLE = '''"""doc"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Event:
    seq: int


class Plain:
    pass
'''


def _decorators(src: str) -> dict[str, list[str]]:
    tree = ast.parse(src)
    return {
        node.name: [ast.unparse(d) for d in node.decorator_list]
        for node in tree.body
        if isinstance(node, ast.ClassDef)
    }


def test_the_attribute_goes_above_every_other_decorator_and_is_imported_for_mypy_only() -> None:
    out = add_class_attrs(SAMPLE, {"Event": "acyclic=True, free_list_len=1", "Plain": "acyclic=True"})
    assert _decorators(out) == {
        "Event": ["mypyc_attr(acyclic=True, free_list_len=1)", "dataclass(frozen=True, slots=True)"],
        "Plain": ["mypyc_attr(acyclic=True)"],
    }
    # Importable and runnable without mypy_extensions: the import sits under TYPE_CHECKING.
    tree = ast.parse(out)
    guarded = [n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING"]
    assert len(guarded) == 1 and "mypy_extensions" in ast.unparse(guarded[0])
    assert not any(isinstance(n, ast.ImportFrom) and n.module == "mypy_extensions" for n in tree.body)


def test_a_class_that_no_longer_exists_fails_the_build() -> None:
    with pytest.raises(AssertionError, match="Gone"):
        add_class_attrs(SAMPLE, {"Event": "acyclic=True", "Gone": "acyclic=True"})


def test_every_named_class_exists_in_the_engine_sources() -> None:
    import matching.engine as pkg

    folder = pkg.__path__[-1]  # the source folder (the compiled one, if any, comes first)
    with open(f"{folder}/messages.py", encoding="utf-8") as fh:
        add_class_attrs(fh.read(), MESSAGE_ATTRS)
    with open(f"{folder}/book.py", encoding="utf-8") as fh:
        add_class_attrs(fh.read(), BOOK_ATTRS)


@pytest.mark.compiled
def test_compiled_results_and_events_are_not_tracked_by_the_cyclic_collector() -> None:
    if not COMPILED:
        pytest.skip("no compiled engine present (make engine-compiled)")
    engine = make_engine("book", "X")
    rested = engine.apply(PlaceOrder("m", "maker", "SELL", 100, 5, 1))
    traded = engine.apply(PlaceOrder("t", "taker", "BUY", 100, 2, 2))
    cancelled = engine.apply(CancelOrder("m", "maker", 3))
    for result in (rested, traded, cancelled):
        assert result.events, "every command here emits an event"
        for obj in (result, result.l2_delta, *result.events):
            assert not gc.is_tracked(obj), f"{type(obj).__name__} is GC-tracked"
    assert [type(e).__name__ for e in traded.events] == ["TradeExecuted"]
