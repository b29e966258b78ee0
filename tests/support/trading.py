"""Placing orders over real HTTP in matcher tests."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.support.stack import StackHandle


class Trader:
    def __init__(self, stack: StackHandle, name: str = "") -> None:
        self.client_id = str(uuid.uuid4())
        self.stack = stack
        self.http = httpx.Client(base_url=stack.url, timeout=30, headers={
            "Authorization": f"Bearer {stack.forge_token(sub=self.client_id, username=name or 'x')}"})

    def place(self, symbol: str, side: str, qty: int, price: str, tif: str = "GTC",
              **extra: Any) -> dict[str, Any]:
        response = self.http.post("/order", json={
            "symbol": symbol, "side": side, "qty": qty, "price": price, "timeInForce": tif,
            "idempotencyKey": uuid.uuid4().hex, **extra})
        assert response.status_code == 201, response.text
        order: dict[str, Any] = response.json()
        return order

    def cancel(self, order_id: str) -> httpx.Response:
        return self.http.post("/cancel", json={"orderId": order_id})

    def order(self, order_id: str) -> dict[str, Any]:
        response = self.http.get(f"/order/{order_id}")
        assert response.status_code == 200, response.text
        order: dict[str, Any] = response.json()
        return order
