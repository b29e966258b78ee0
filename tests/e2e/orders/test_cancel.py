"""POST /cancel: conditional, owner-only, retry-safe; a cancel message follows every success."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.support.orders import drain_queue, new_client, order_body, order_items_of, set_order_fields
from tests.support.stack import StackHandle


def _place(stack: StackHandle, token: str) -> str:
    with stack.http(token) as http:
        response = http.post("/order", json=order_body())
    assert response.status_code == 201
    order_id: str = response.json()["orderId"]
    return order_id


def test_cancel_own_open_order_then_again(entry_stack: StackHandle) -> None:
    client_id, token = new_client(entry_stack)
    order_id = _place(entry_stack, token)
    with entry_stack.http(token) as http:
        first = http.post("/cancel", json={"orderId": order_id})
        second = http.post("/cancel", json={"orderId": order_id})
        shown = http.get(f"/order/{order_id}").json()
    assert first.status_code == 200 and first.json()["status"] == "CANCELLED"
    assert second.status_code == 200 and second.json()["status"] == "CANCELLED"
    assert shown["status"] == "CANCELLED"
    [item] = order_items_of(entry_stack, client_id)
    assert item["status"]["S"] == "CANCELLED"
    assert "openSymbol" not in item  # off the open-orders index (it was never on a book)
    # The acknowledgement's own record (reconciliation's cancel_overtaken check reads it).
    key = {"S": f"CANCEL#{order_id}"}
    record = entry_stack.boto("dynamodb").get_item(
        TableName=entry_stack.env["ORDERS_TABLE"], Key={"pk": key, "sk": key},
        ConsistentRead=True)["Item"]
    assert (record["orderId"]["S"], record["ownerClientId"]["S"], record["symbol"]["S"]) == (
        order_id, client_id, "TULIP")
    cancels = [m for m in drain_queue(entry_stack)
               if m["orderId"] == order_id and m["type"] == "CancelRequested"]
    assert len(cancels) >= 1  # SQS dedupe may collapse the retry's copy
    assert cancels[0]["_group"] == "market-TULIP"


def test_cancel_someone_elses_order_is_404_and_changes_nothing(entry_stack: StackHandle) -> None:
    owner_id, owner = new_client(entry_stack)
    _, intruder = new_client(entry_stack)
    order_id = _place(entry_stack, owner)
    with entry_stack.http(intruder) as http:
        response = http.post("/cancel", json={"orderId": order_id})
        peek = http.get(f"/order/{order_id}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert peek.status_code == 404
    [item] = order_items_of(entry_stack, owner_id)
    assert item["status"]["S"] == "ACCEPTED"


def test_cancel_unknown_order_is_404(entry_stack: StackHandle) -> None:
    _, token = new_client(entry_stack)
    with entry_stack.http(token) as http:
        response = http.post("/cancel", json={"orderId": "0" * 32})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_cancel_filled_order_is_404_not_open(entry_stack: StackHandle) -> None:
    _, token = new_client(entry_stack)
    order_id = _place(entry_stack, token)
    set_order_fields(entry_stack, order_id, status="FILLED", filledQty=10)
    with entry_stack.http(token) as http:
        response = http.post("/cancel", json={"orderId": order_id})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_open"
    assert response.json()["error"]["details"]["status"] == "FILLED"


def test_bad_cancel_bodies_are_400(entry_stack: StackHandle) -> None:
    _, token = new_client(entry_stack)
    with entry_stack.http(token) as http:
        for body in ({}, {"orderId": ""}, {"orderId": 5}, {"orderId": "../x"},
                     {"orderId": "a", "extra": 1}, [1]):
            response = http.post("/cancel", json=body)
            assert response.status_code == 400, body
            assert response.json()["error"]["code"] == "validation_error"


def test_ten_concurrent_cancels_leave_one_cancelled_state(entry_stack: StackHandle) -> None:
    client_id, token = new_client(entry_stack)
    order_id = _place(entry_stack, token)

    def cancel(_: int) -> tuple[int, str]:
        with entry_stack.http(token) as http:
            response = http.post("/cancel", json={"orderId": order_id})
        return response.status_code, response.json().get("status", "")

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(cancel, range(10)))
    assert results == [(200, "CANCELLED")] * 10
    [item] = order_items_of(entry_stack, client_id)
    assert item["status"]["S"] == "CANCELLED"
    assert item["cancelReason"]["S"] == "user"
