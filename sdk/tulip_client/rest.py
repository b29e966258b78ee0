"""`TulipClient`: the synchronous REST client (docs/realtime.md lists the endpoints it reads)."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from tulip_client.backoff import Backoff
from tulip_client.errors import ApiError
from tulip_client.regions import RegionPicker

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class TulipClient:
    """Synchronous REST client. Every call is bounded: `retries` attempts, each `timeout_s`.

    A retry sends identical bytes, so a submit carries the same idempotency key on every attempt
    and the server answers a repeat with the order it already accepted: a retried submit never
    creates a second order. A transport error or a 503 re-pins the region before the next try."""

    def __init__(self, endpoints: Sequence[str] | str, token: str, retries: int = 4,
                 timeout_s: float = 5.0, backoff: Backoff | None = None,
                 rng: random.Random | None = None) -> None:
        self.regions = RegionPicker([endpoints] if isinstance(endpoints, str) else endpoints)
        self.token = token
        self.retries = max(1, retries)
        self.backoff = backoff or Backoff()
        self.rng = rng or random.Random()
        self.http = httpx.Client(timeout=timeout_s)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> TulipClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def base_url(self) -> str:
        return self.regions.current

    def request(self, method: str, path: str, *, json_body: Any = None,
                params: Mapping[str, Any] | None = None,
                headers: Mapping[str, str] | None = None) -> Any:
        """One logical call: identical bytes on every attempt (same idempotency key)."""
        last_error: Exception | None = None
        for attempt in range(self.retries):
            if attempt:
                time.sleep(self.backoff.delay(attempt - 1, self.rng))
            try:
                response = self.http.request(
                    method, f"{self.base_url}{path}", json=json_body, params=params,
                    headers={"Authorization": f"Bearer {self.token}", **(headers or {})})
            except httpx.TransportError as exc:
                last_error = exc
                self.regions.repin()  # the region may be gone: move to a healthy one
                continue
            if response.status_code in RETRY_STATUSES:
                last_error = ApiError(response.status_code, _json(response))
                if response.status_code == 503:
                    self.regions.repin()
                continue
            if response.status_code >= 400:
                raise ApiError(response.status_code, _json(response))
            return _json(response)
        if isinstance(last_error, ApiError):
            raise last_error
        raise ApiError(0, {"error": {"code": "unavailable", "message": str(last_error)}})

    def place_order(self, side: str, qty: int, price: str, symbol: str | None = None,
                    time_in_force: str = "GTC", post_only: bool = False,
                    idempotency_key: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"side": side, "qty": qty, "price": price,
                                "timeInForce": time_in_force, "postOnly": post_only,
                                "idempotencyKey": idempotency_key or f"py-{uuid.uuid4().hex}"}
        if symbol:
            body["symbol"] = symbol
        order: dict[str, Any] = self.request("POST", "/order", json_body=body)
        return order

    def cancel(self, order_id: str) -> dict[str, Any]:
        order: dict[str, Any] = self.request("POST", "/cancel", json_body={"orderId": order_id})
        return order

    def book(self, symbol: str | None = None, depth: int = 5) -> dict[str, Any]:
        params: dict[str, Any] = {"depth": depth, **({"symbol": symbol} if symbol else {})}
        book: dict[str, Any] = self.request("GET", "/book", params=params)
        return book

    def open_orders(self, symbol: str | None = None) -> list[dict[str, Any]]:
        params = {"status": "open", **({"symbol": symbol} if symbol else {})}
        page: dict[str, Any] = self.request("GET", "/orders", params=params)
        return list(page["items"])

    def events(self, symbol: str, from_seq: int, limit: int = 1000) -> dict[str, Any]:
        page: dict[str, Any] = self.request("GET", "/events", params={
            "symbol": symbol, "fromSeq": from_seq, "limit": limit})
        return page


def _json(response: httpx.Response) -> Any:
    """The response's JSON, or an error body when the server (or a proxy) sent something else."""
    try:
        return response.json()
    except ValueError:
        return {"error": {"code": "internal", "message": response.text[:200]}}
