"""Helpers for the local-stack tests: real moto server processes and small AWS helpers.

Every test that takes ``server`` runs twice. On ``unpatched`` it asserts that the moto defect is
observed (documenting it, and failing loudly if a moto upgrade fixed it); on ``patched`` it asserts
the fixed behaviour. No Django: run with ``-p no:django``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from devstack.work_meter import CALLS_HEADER, METER_HEADER
from tulip.aws import LOCAL_CREDENTIALS, LOCAL_CREDENTIALS_ENV

REPO = Path(__file__).resolve().parents[3]
REGION = "us-east-1"
CREDENTIALS = {**LOCAL_CREDENTIALS_ENV, "AWS_DEFAULT_REGION": REGION}
# No client-side retries: a 500 from the server must surface, not be retried away.
CLIENT_CONFIG = Config(retries={"total_max_attempts": 1, "mode": "standard"}, max_pool_connections=32)

for _key, _value in CREDENTIALS.items():
    os.environ.setdefault(_key, _value)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class MotoServer:
    name: str
    patched: bool
    process: subprocess.Popen[str]
    url: str
    _clients: dict[str, Any] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.process.pid

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = boto3.client(
                service,  # type: ignore[call-overload]
                endpoint_url=self.url,
                region_name=REGION,
                **LOCAL_CREDENTIALS,
                config=CLIENT_CONFIG,
            )
        return self._clients[service]

    def new_client(self, service: str) -> Any:
        """A separate client (own connection pool) for a concurrent thread."""
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.url,
            region_name=REGION,
            **LOCAL_CREDENTIALS,
            config=CLIENT_CONFIG,
        )

    @property
    def dynamodb(self) -> Any:
        return self.client("dynamodb")

    @property
    def streams(self) -> Any:
        return self.client("dynamodbstreams")

    @property
    def sqs(self) -> Any:
        return self.client("sqs")

    def rss_kb(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def metered(self, service: str) -> Any:
        """A client whose every request asks the server for its cost in Python calls (see
        ``devstack.work_meter``); read it with ``calls_of(response)``."""
        key = f"metered-{service}"
        if key not in self._clients:
            client = self.new_client(service)

            def ask(request: Any, **_: Any) -> None:
                request.headers[METER_HEADER] = "calls"

            client.meta.events.register("before-sign", ask)
            self._clients[key] = client
        return self._clients[key]

    def expect(self, fixed: bool, defect: str) -> None:
        """Patched: the fixed behaviour holds. Unpatched: moto's defect is observed."""
        if self.patched:
            assert fixed, f"patched moto still shows: {defect}"
        else:
            assert not fixed, f"stock moto no longer shows this defect (upgrade?): {defect}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def calls_of(response: dict[str, Any]) -> int:
    """The server's count of Python calls for the request that gave ``response``."""
    return int(response["ResponseMetadata"]["HTTPHeaders"][CALLS_HEADER.lower()])


def start_moto(patched: bool, extra_env: dict[str, str] | None = None, timeout: float = 60.0) -> MotoServer:
    port = free_port()
    env = {**os.environ, **CREDENTIALS, **(extra_env or {})}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    cmd = [sys.executable, "-m", "devstack.moto_server", "--host", "127.0.0.1", "--port", str(port),
           "--meter"]
    if not patched:
        cmd.append("--unpatched")
    process = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert process.stdout is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout)
    expected = f"moto ready on http://127.0.0.1:{port}"
    if not lines or lines[0].strip() != expected:
        process.kill()
        raise RuntimeError(f"moto server did not start: {lines!r} (rc={process.poll()})")
    name = "patched" if patched else "unpatched"
    return MotoServer(name=name, patched=patched, process=process, url=f"http://127.0.0.1:{port}")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create_table(ddb: Any, name: str | None = None, *, stream: bool = False, range_key: bool = False) -> str:
    name = name or unique("tbl")
    keys = [{"AttributeName": "pk", "KeyType": "HASH"}]
    attrs = [{"AttributeName": "pk", "AttributeType": "S"}]
    if range_key:
        keys.append({"AttributeName": "sk", "KeyType": "RANGE"})
        attrs.append({"AttributeName": "sk", "AttributeType": "S"})
    kwargs: dict[str, Any] = {
        "TableName": name,
        "KeySchema": keys,
        "AttributeDefinitions": attrs,
        "BillingMode": "PAY_PER_REQUEST",
    }
    if stream:
        kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    ddb.create_table(**kwargs)
    return name


def fill_table(ddb: Any, table: str, count: int, pad: int = 64) -> None:
    """``count`` items ``pk=item-<n>`` via BatchWriteItem."""
    for start in range(0, count, 25):
        requests = [
            {"PutRequest": {"Item": {"pk": {"S": f"item-{n}"}, "pad": {"S": "x" * pad}, "n": {"N": str(n)}}}}
            for n in range(start, min(start + 25, count))
        ]
        ddb.batch_write_item(RequestItems={table: requests})


def stream_arn(ddb: Any, table: str) -> str:
    return str(ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"])


def shard_iterator(server: MotoServer, table: str, kind: str = "TRIM_HORIZON") -> str:
    arn = stream_arn(server.dynamodb, table)
    shard = server.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    it = server.streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType=kind)
    return str(it["ShardIterator"])


def read_stream(server: MotoServer, iterator: str, limit: int = 1000) -> tuple[list[dict[str, Any]], str]:
    """All records available from ``iterator`` now; returns them and the next iterator."""
    records: list[dict[str, Any]] = []
    while True:
        out = server.streams.get_records(ShardIterator=iterator, Limit=limit)
        iterator = out["NextShardIterator"]
        records.extend(out["Records"])
        if not out["Records"]:
            return records, iterator


def create_fifo_queue(sqs: Any, visibility_timeout: int = 30, **attributes: str) -> str:
    name = unique("q") + ".fifo"
    attrs = {"FifoQueue": "true", "VisibilityTimeout": str(visibility_timeout), **attributes}
    return str(sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"])


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
