"""GET /events: committed market events after fromSeq, `{seq,type,symbol,ts,...payload}`,
private fields (client ids) stripped, paginated by nextCursor."""

from __future__ import annotations

from tests.support import ws as rt_ws
from tests.support.stack import StackHandle


def test_events_after_from_seq_without_client_ids(rt_stack: StackHandle) -> None:
    events = rt_ws.synthetic_events("RTG", 1, 10)
    rt_ws.store_events(rt_stack, events)
    with rt_stack.http(rt_stack.token("alice")) as http:
        first = http.get("/events", params={"symbol": "RTG", "fromSeq": 3, "limit": 4}).json()
        second = http.get("/events", params={"symbol": "RTG", "cursor": first["nextCursor"],
                                             "limit": 4}).json()
        rest = http.get("/events", params={"symbol": "RTG", "fromSeq": 7}).json()
        bad = http.get("/events", params={"symbol": "NOPE"})
        anonymous = rt_stack.http().get("/events", params={"symbol": "RTG"})
    assert [e["seq"] for e in first["items"]] == [4, 5, 6, 7] and first["nextCursor"] == "7"
    assert [e["seq"] for e in second["items"]] == [8, 9, 10, 11][:3]
    assert [e["seq"] for e in rest["items"]] == [8, 9, 10] and rest["nextCursor"] is None
    trade = next(e for e in first["items"] if e["type"] == "TradeExecuted")
    assert {"seq", "type", "symbol", "ts", "tradeId", "price", "qty", "takerSide", "l2"} <= set(trade)
    for item in first["items"] + second["items"]:
        assert not {"clientId", "makerClientId", "takerClientId"} & set(item)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "validation_error"
    assert anonymous.status_code == 401
