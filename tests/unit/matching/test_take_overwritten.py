"""A take whose shard item is overwritten at once by another region's replicated write (a newer
leadership term wins last-writer-wins) is no take: the epoch found there is not the taker's, and
committing under it would store a seq that region stores too (simulation seed 1497)."""

from __future__ import annotations

from typing import Any

import pytest

import matching.storage as storage
from matching.storage import MatcherStorage
from tulip.config import load_config
from tulip.schema import TERM_EPOCHS, ShardItem

CFG = load_config({"TULIP_ENV": "test", "AWS_ENDPOINT_URL": "http://127.0.0.1:9"})


def _shard(epoch: int, holder: str | None) -> ShardItem:
    raw: dict[str, Any] = {**storage.shard_key("ROSE"), "epoch": {"N": str(epoch)},
                           "lastSeq": {"N": "0"}}
    if holder:
        raw["holder"] = {"S": holder}
    return ShardItem.from_raw_data(raw)


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> MatcherStorage:
    monkeypatch.setattr(storage, "transact", lambda ddb, items: None)  # the take commits
    store = MatcherStorage(CFG)
    monkeypatch.setattr(store, "_newest_epoch_of_term", lambda symbol, term: 0)  # none recorded
    return store


def test_a_take_read_back_as_written_is_the_takers(store: MatcherStorage,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    mine = TERM_EPOCHS + 1
    monkeypatch.setattr(store, "read_shard", lambda symbol: _shard(mine, "me"))
    taken = store.take_shard("ROSE", "me", _shard(0, None), 1, 10**13, "now")
    assert taken is not None and (taken.epoch, taken.holder) == (mine, "me")


def test_a_take_overwritten_by_another_regions_epoch_is_none(
        store: MatcherStorage, monkeypatch: pytest.MonkeyPatch) -> None:
    theirs = 2 * TERM_EPOCHS + 1  # us-west-2's take under term 2, replicated in meanwhile
    monkeypatch.setattr(store, "read_shard", lambda symbol: _shard(theirs, "matcher-1@us-west-2"))
    assert store.take_shard("ROSE", "me", _shard(0, None), 1, 10**13, "now") is None
