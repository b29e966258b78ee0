"""Plants items straight into DynamoDB in docs/storage.md's shapes, and runs ops commands as
subprocesses with a stack's environment (the way an operator runs them)."""

from __future__ import annotations

import hashlib
import json
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.stack import StackHandle
from tulip import event_pages
from tulip.clock import iso_ago, now_iso
from tulip.schema import EventPageItem

REPO = Path(__file__).resolve().parents[3]


def run_manage(stack: StackHandle, *args: str, env: dict[str, str] | None = None,
               timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO,
                          env=env or stack.env, capture_output=True, text=True, timeout=timeout,
                          check=False)


def reconcile_json(stack: StackHandle, *args: str,
                   env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    result = run_manage(stack, "reconcile", "--json", *args, env=env)
    assert "Traceback" not in result.stderr, result.stderr
    try:
        return result.returncode, json.loads(result.stdout)
    except ValueError:
        raise AssertionError(f"not JSON: {result.stdout!r} {result.stderr!r}") from None


def found(report: dict[str, Any]) -> set[tuple[str, tuple[str, ...]]]:
    return {(f["kind"], tuple(f["orderIds"] + f["tradeIds"])) for f in report["findings"]}


def new_symbol() -> str:
    # Not in TULIP_SYMBOLS: no matcher or sweeper ever touches it; unique per test.
    return "R" + secrets.token_hex(3).upper()


@dataclass
class Planter:
    stack: StackHandle

    @property
    def ddb(self) -> Any:
        return self.stack.boto("dynamodb")

    def order(self, symbol: str, side: str, qty: int, status: str, filled: int = 0,
              price_ticks: int = 10_000, ik: str | None = None, accepted_ago_s: float = 0,
              client: str = "client-a", order_id: str | None = None) -> str:
        order_id = order_id or secrets.token_hex(16)
        stamp = iso_ago(accepted_ago_s) if accepted_ago_s else now_iso()
        item: dict[str, Any] = {
            "pk": {"S": f"ORDER#{order_id}"}, "sk": {"S": f"ORDER#{order_id}"},
            "orderId": {"S": order_id}, "clientId": {"S": client},
            "idempotencyKey": {"S": ik or hashlib.sha256(order_id.encode()).hexdigest()},
            "symbol": {"S": symbol}, "side": {"S": side}, "qty": {"N": str(qty)},
            "priceTicks": {"N": str(price_ticks)}, "timeInForce": {"S": "GTC"},
            "postOnly": {"BOOL": False}, "status": {"S": status},
            "filledQty": {"N": str(filled)},
            "filledNotionalTicks": {"N": str(filled * price_ticks)},
            "createdAt": {"S": stamp}, "acceptedAt": {"S": stamp}, "updatedAt": {"S": stamp},
            "region": {"S": "us-east-1"},
        }
        if status == "ACCEPTED":
            item["openSymbol"] = {"S": symbol}
            item["openSort"] = {"S": f"A#{stamp}#{order_id}"}
        elif status in ("OPEN", "PARTIALLY_FILLED"):
            item["openSymbol"] = {"S": symbol}
            item["openSort"] = {"S": f"B#{1:020d}"}
        self.ddb.put_item(TableName=self.stack.env["ORDERS_TABLE"], Item=item)
        return order_id

    def idempotency_record(self, ik: str, order_id: str, client: str = "client-a") -> None:
        self.ddb.put_item(TableName=self.stack.env["ORDERS_TABLE"], Item={
            "pk": {"S": f"IDEMP#{ik}"}, "sk": {"S": f"IDEMP#{ik}"}, "orderId": {"S": order_id},
            "ownerClientId": {"S": client}, "fingerprint": {"S": "f" * 64},
            "recordedAt": {"S": now_iso()}, "expiresAt": {"N": "9999999999"}})

    def event(self, symbol: str, seq: int, kind: str, payload: dict[str, Any]) -> None:
        """One event as a page of its own (docs/storage.md)."""
        (item,) = event_pages.page_items(symbol, 0, [{"seq": seq, "type": kind, "ts": now_iso(),
                                                      "payload": payload}])
        self.ddb.put_item(TableName=self.stack.env["TRADES_TABLE"], Item=item)

    def trade(self, symbol: str, seq: int, qty: int, buy: str, sell: str,
              price_ticks: int = 10_000, with_event: bool = True) -> str:
        trade_id = f"{symbol}-{seq:012d}"
        self.ddb.put_item(TableName=self.stack.env["TRADES_TABLE"], Item={
            "pk": {"S": f"TRADE#{trade_id}"}, "sk": {"S": f"TRADE#{trade_id}"},
            "tradeId": {"S": trade_id}, "symbol": {"S": symbol}, "tradeSymbol": {"S": symbol},
            "seq": {"N": str(seq)}, "priceTicks": {"N": str(price_ticks)}, "qty": {"N": str(qty)},
            "takerSide": {"S": "BUY"}, "buyOrderId": {"S": buy}, "sellOrderId": {"S": sell},
            "buyClientId": {"S": "client-b"}, "sellClientId": {"S": "client-a"},
            "makerOrderId": {"S": sell}, "takerOrderId": {"S": buy}, "ts": {"S": now_iso()},
            "region": {"S": "us-east-1"}})
        if with_event:
            self.event(symbol, seq, "TradeExecuted", {"tradeId": trade_id, "qty": qty,
                                                      "buyOrderId": buy, "sellOrderId": sell})
        return trade_id

    def shard(self, symbol: str, last_seq: int, epoch: int = 1) -> None:
        self.ddb.put_item(TableName=self.stack.env["TRADES_TABLE"], Item={
            "pk": {"S": f"SHARD#{symbol}"}, "sk": {"S": f"SHARD#{symbol}"},
            "lastSeq": {"N": str(last_seq)}, "epoch": {"N": str(epoch)},
            "lastSqsSeq": {"S": "0"}, "leader": {"S": "test"}, "updatedAt": {"S": now_iso()}})

    def get_order(self, order_id: str) -> dict[str, Any]:
        item: dict[str, Any] = self.ddb.get_item(
            TableName=self.stack.env["ORDERS_TABLE"], ConsistentRead=True,
            Key={"pk": {"S": f"ORDER#{order_id}"}, "sk": {"S": f"ORDER#{order_id}"}})["Item"]
        return item

    def events(self, symbol: str) -> list[dict[str, Any]]:
        """The stored events, decoded from their pages ({seq, symbol, type, ts, payload})."""
        items: list[dict[str, Any]] = self.ddb.query(
            TableName=self.stack.env["TRADES_TABLE"], ConsistentRead=True,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": event_pages.pk(symbol)}})["Items"]
        return event_pages.flatten(EventPageItem.from_raw_data(i) for i in items)

    def last_seq(self, symbol: str) -> int:
        item = self.ddb.get_item(TableName=self.stack.env["TRADES_TABLE"], ConsistentRead=True,
                                 Key={"pk": {"S": f"SHARD#{symbol}"},
                                      "sk": {"S": f"SHARD#{symbol}"}}).get("Item", {})
        return int(item.get("lastSeq", {}).get("N", "0"))


@dataclass
class Ledger:
    """A consistent little ledger: SELL s1 10 rests (seq 1), BUY b1 4 fills against it (seq 2).
    b1 FILLED 4/4, s1 PARTIALLY_FILLED 4/10 (still open)."""

    symbol: str
    buy: str
    sell: str
    trade: str


def consistent_ledger(planter: Planter, symbol: str) -> Ledger:
    sell = planter.order(symbol, "SELL", 10, "PARTIALLY_FILLED", filled=4)
    buy = planter.order(symbol, "BUY", 4, "FILLED", filled=4)
    planter.event(symbol, 1, "OrderOpened", {"orderId": sell, "qty": 10})
    trade = planter.trade(symbol, 2, 4, buy, sell)
    planter.shard(symbol, 2)
    return Ledger(symbol, buy, sell, trade)
