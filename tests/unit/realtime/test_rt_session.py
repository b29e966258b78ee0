"""Session.admit: what a connection forwards (topic, owner, duplicates) — pure, no socket."""

from __future__ import annotations

from realtime.services import Session, Topic


def test_admit_filters_topics_owners_and_duplicates() -> None:
    session = Session("alice")
    session.subscribe(Topic("trades:S", "trades", "S"), 4)
    session.subscribe(Topic("orderStatus", "orderStatus", None), None)
    trade = {"type": "trade", "topic": "trades:S"}
    assert not session.admit({**trade, "seq": 4})  # covered by the baseline
    assert session.admit({**trade, "seq": 5})
    assert not session.admit({**trade, "seq": 5})  # at-least-once repeat
    assert not session.admit({"type": "book", "topic": "book:S", "seq": 9})  # not subscribed
    mine = {"type": "orderStatus", "topic": "orderStatus", "seq": 7, "order": {"clientId": "alice"}}
    theirs = {**mine, "order": {"clientId": "bob"}}
    assert session.admit(mine) and session.admit(mine | {"order": {"clientId": "alice", "orderId": "2"}})
    assert not session.admit(theirs)
    assert session.heartbeat()["seqs"] == {"trades:S": 5, "orderStatus": 7}
