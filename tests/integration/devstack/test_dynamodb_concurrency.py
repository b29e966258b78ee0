"""Concurrent transactions lose no update and never fail with HTTP 500.

moto 5.2.5 has no lock on the threaded server: a cancelled transaction's rollback swaps in a table
copy taken before other clients' writes (erasing them), and deep copies iterate dicts that other
requests are changing ("dictionary changed size during iteration", HTTP 500).
"""

from __future__ import annotations

import threading
from typing import Any

from botocore.exceptions import ClientError

from .support import MotoServer, create_table, fill_table

THREADS = 4
TRANSACTIONS = 25


def test_concurrent_transactions_lose_nothing(server: MotoServer) -> None:
    table = create_table(server.dynamodb, stream=True)
    fill_table(server.dynamodb, table, 300)
    server.dynamodb.put_item(TableName=table, Item={"pk": {"S": "counter"}, "c": {"N": "0"}})
    committed: list[str] = []
    failures: list[str] = []
    barrier = threading.Barrier(THREADS)

    def worker(t: int) -> None:
        ddb = server.new_client("dynamodb")
        barrier.wait()
        for i in range(TRANSACTIONS):
            key = f"t{t}-{i}"
            items: list[dict[str, Any]] = [
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"pk": {"S": "counter"}},
                        "UpdateExpression": "ADD c :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
                {"Put": {"TableName": table, "Item": {"pk": {"S": key}}}},
            ]
            if i % 3 == 2:  # every third transaction is cancelled: exercises rollback under load
                items.append(
                    {
                        "ConditionCheck": {
                            "TableName": table,
                            "Key": {"pk": {"S": "missing"}},
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    }
                )
            try:
                ddb.transact_write_items(TransactItems=items)
                committed.append(key)
            except ddb.exceptions.TransactionCanceledException:
                pass
            except ClientError as exc:
                failures.append(f"{exc.response['ResponseMetadata']['HTTPStatusCode']} {exc}")

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    ddb = server.dynamodb
    counter = int(ddb.get_item(TableName=table, Key={"pk": {"S": "counter"}})["Item"]["c"]["N"])
    present = {
        k
        for k in committed
        if "Item" in ddb.get_item(TableName=table, Key={"pk": {"S": k}}, ConsistentRead=True)
    }
    lost = len(committed) - len(present)
    server.expect(
        not failures and lost == 0 and counter == len(committed),
        f"{len(failures)} failed requests (e.g. {failures[:1]}), {lost} committed puts lost, "
        f"counter {counter} vs {len(committed)} commits",
    )
