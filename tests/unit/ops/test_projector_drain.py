"""The projector's polling loop passes again at once only while a backlog waits; `--once` drains
until a pass finds nothing (ops/management/commands/project_streams.py, `_drain`).

Under steady load every pass finds a few new records; passing again at once kept the projector
busy (4.5-8 passes a second at 100 orders/s, three stream calls per shard each). Here
`project_once` is replaced by a script of pass results, and the test counts the passes `_drain`
makes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ops import services
from ops.management.commands import project_streams
from ops.services import ProjectionPass


def _drain(monkeypatch: pytest.MonkeyPatch, script: list[ProjectionPass],
           until_empty: bool) -> tuple[int, ProjectionPass]:
    passes: Iterator[ProjectionPass] = iter(script)
    made = []

    def project_once(cfg: Any, reader: Any) -> ProjectionPass:
        made.append(1)
        return next(passes, ProjectionPass(shards=2))

    monkeypatch.setattr(services, "project_once", project_once)
    command = project_streams.Command()
    command._reader = object()  # type: ignore[assignment]  # never read: project_once is scripted
    total = command._drain(object(), until_empty=until_empty)
    return len(made), total


def test_a_pass_that_caught_up_ends_the_drain_even_if_it_found_records(
        monkeypatch: pytest.MonkeyPatch) -> None:
    passes, total = _drain(monkeypatch, [ProjectionPass(7, 7, 2), ProjectionPass(5, 5, 2)],
                           until_empty=False)
    assert (passes, total.records) == (1, 7)


def test_a_backlog_is_drained_in_passes_back_to_back(monkeypatch: pytest.MonkeyPatch) -> None:
    script = [ProjectionPass(500, 500, 2, backlog=True), ProjectionPass(500, 480, 2, backlog=True),
              ProjectionPass(30, 30, 2), ProjectionPass(9, 9, 2)]
    passes, total = _drain(monkeypatch, script, until_empty=False)
    assert (passes, total.records, total.applied) == (3, 1030, 1010)


def test_once_drains_until_a_pass_finds_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    script = [ProjectionPass(7, 7, 2), ProjectionPass(5, 5, 2), ProjectionPass(0, 0, 2)]
    passes, total = _drain(monkeypatch, script, until_empty=True)
    assert (passes, total.records) == (3, 12)
