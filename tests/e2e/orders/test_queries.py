"""GET /order/{id}, /orders (filters, pagination), /trades, /fills, /book."""

from __future__ import annotations

from tests.support.orders import new_client, order_body, set_order_fields
from tests.support.stack import StackHandle


def test_orders_newest_first_with_cursor_pagination(entry_stack: StackHandle) -> None:
    _, token = new_client(entry_stack)
    placed = []
    with entry_stack.http(token) as http:
        for i in range(7):
            placed.append(http.post("/order", json=order_body(qty=i + 1)).json()["orderId"])
        seen: list[str] = []
        cursor = None
        for _ in range(10):
            query = "limit=3" + (f"&cursor={cursor}" if cursor else "")
            page = http.get(f"/orders?{query}").json()
            assert len(page["items"]) <= 3
            seen.extend(item["orderId"] for item in page["items"])
            cursor = page["nextCursor"]
            if cursor is None:
                break
    assert seen == list(reversed(placed))


def test_status_and_symbol_filters(entry_stack: StackHandle) -> None:
    _, token = new_client(entry_stack)
    with entry_stack.http(token) as http:
        open_id = http.post("/order", json=order_body()).json()["orderId"]
        cancelled_id = http.post("/order", json=order_body()).json()["orderId"]
        other_symbol = http.post("/order", json=order_body(symbol="TULIPB")).json()["orderId"]
        assert http.post("/cancel", json={"orderId": cancelled_id}).status_code == 200
        open_ids = {o["orderId"] for o in http.get("/orders?status=open").json()["items"]}
        all_ids = {o["orderId"] for o in http.get("/orders?status=all").json()["items"]}
        tulipb = {o["orderId"] for o in http.get("/orders?symbol=TULIPB").json()["items"]}
    assert open_ids == {open_id, other_symbol}
    assert all_ids == {open_id, cancelled_id, other_symbol}
    assert tulipb == {other_symbol}


def test_get_order_is_owner_only(entry_stack: StackHandle) -> None:
    _, alice = new_client(entry_stack)
    _, bob = new_client(entry_stack)
    with entry_stack.http(alice) as http:
        order_id = http.post("/order", json=order_body()).json()["orderId"]
        assert http.get(f"/order/{order_id}").json()["orderId"] == order_id
    with entry_stack.http(bob) as http:
        assert http.get(f"/order/{order_id}").status_code == 404


def test_book_falls_back_to_dynamodb_resting_orders(entry_stack: StackHandle) -> None:
    """No matcher has published a snapshot, so /book aggregates resting orders from DynamoDB."""
    _, token = new_client(entry_stack)
    with entry_stack.http(token) as http:
        ids = [http.post("/order", json=order_body(symbol="TULIPB", side=side, qty=qty,
                                                   price=price)).json()["orderId"]
               for side, qty, price in [("BUY", 5, "99.00"), ("BUY", 7, "99.00"),
                                        ("BUY", 1, "98.50"), ("SELL", 4, "100.00")]]
        for seq, order_id in enumerate(ids, start=1):
            set_order_fields(entry_stack, order_id, status="OPEN", openSort=f"B#{seq:020d}")
        set_order_fields(entry_stack, ids[1], status="PARTIALLY_FILLED", filledQty=2)
        book = http.get("/book?symbol=TULIPB&depth=5").json()
    assert book["symbol"] == "TULIPB"
    assert book["bids"] == [{"price": "99.00", "qty": 10, "orders": 2},
                            {"price": "98.50", "qty": 1, "orders": 1}]
    assert book["asks"] == [{"price": "100.00", "qty": 4, "orders": 1}]
    assert isinstance(book["seq"], int)


def test_trades_and_fills_are_empty_lists_before_any_match(entry_stack: StackHandle) -> None:
    _, token = new_client(entry_stack)
    with entry_stack.http(token) as http:
        assert http.get("/trades").json() == {"items": [], "nextCursor": None}
        assert http.get("/fills").json() == {"items": [], "nextCursor": None}
