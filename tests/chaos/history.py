"""The chaos run's history: every request a client sent (each attempt of each retry), every answer
or error it got, and every fault the driver injected, as append-only JSON lines.

One file per run (`history.jsonl` in the run's directory). A line is written and flushed before
the recorder returns, so a run that dies half-way still leaves a readable prefix; nothing is ever
rewritten. Each line is one record:

    {"n": 17, "t": 3.214, "kind": "request", ...}    before an attempt is sent
    {"n": 18, "t": 3.250, "kind": "response", ...}   its outcome: HTTP status + body, or an error
    {"n": 19, "t": 3.300, "kind": "fault", ...}      a kill, a restart, a latency window, ...
    {"n": 20, "t": 3.301, "kind": "event", ...}      anything else the driver notes (phases)

`n` is the record's place in the file (assigned under the lock that orders the writes), `t` the
seconds since the run started (monotonic clock: for figures only, never for a check). The checker
(tests/chaos/checker.py) reads the file back with `load`.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

FILE_NAME = "history.jsonl"


class History:
    """Thread-safe append-only recorder (one per run)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self._lock = threading.Lock()
        self._count = itertools.count(1)
        self._ids = itertools.count(1)
        self._started = time.monotonic()

    def now(self) -> float:
        return round(time.monotonic() - self._started, 4)

    def new_id(self) -> int:
        """An id for one attempt: its request and response records carry it."""
        with self._lock:
            return next(self._ids)

    def record(self, kind: str, **fields: Any) -> dict[str, Any]:
        with self._lock:
            entry = {"n": next(self._count), "t": self.now(), "kind": kind, **fields}
            self._file.write(json.dumps(entry, separators=(",", ":"), default=str) + "\n")
            self._file.flush()
        return entry

    def request(self, **fields: Any) -> dict[str, Any]:
        return self.record("request", **fields)

    def response(self, **fields: Any) -> dict[str, Any]:
        return self.record("response", **fields)

    def fault(self, fault: str, **fields: Any) -> dict[str, Any]:
        return self.record("fault", fault=fault, **fields)

    def event(self, what: str, **fields: Any) -> dict[str, Any]:
        return self.record("event", what=what, **fields)

    def close(self) -> None:
        with self._lock:
            self._file.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load(path: Path) -> list[dict[str, Any]]:
    """Every record, in file order. A torn last line (the writer died mid-write) is dropped."""
    records = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
    return records


@dataclass
class Attempt:
    """One attempt as the checker sees it: the request and (if it came) the response."""

    id: int
    request: dict[str, Any]
    response: dict[str, Any] | None = None

    @property
    def status(self) -> int | None:
        return None if self.response is None else self.response.get("status")

    @property
    def body(self) -> dict[str, Any]:
        body = None if self.response is None else self.response.get("body")
        return body if isinstance(body, dict) else {}


@dataclass
class Submit:
    """Every attempt made for one (clientId, idempotencyKey): one logical order submit."""

    client_id: str
    key: str
    order: dict[str, Any]  # the request body (the same on every attempt)
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def acks(self) -> list[Attempt]:
        """Attempts answered 201 (created) or 200 (identical replay): acknowledged."""
        return [a for a in self.attempts if a.status in (200, 201)]


def attempts(records: Iterable[dict[str, Any]]) -> Iterator[Attempt]:
    """Requests joined with their responses, in request order."""
    by_id: dict[int, Attempt] = {}
    for record in records:
        if record["kind"] == "request":
            by_id[record["id"]] = Attempt(record["id"], record)
        elif record["kind"] == "response" and record["id"] in by_id:
            by_id[record["id"]].response = record
    yield from by_id.values()


def submits(records: Iterable[dict[str, Any]]) -> dict[tuple[str, str], Submit]:
    """POST /order attempts grouped by (clientId, idempotencyKey)."""
    found: dict[tuple[str, str], Submit] = {}
    for attempt in attempts(records):
        request = attempt.request
        if request.get("op") != "order":
            continue
        key = (request["client"], request["key"])
        submit = found.setdefault(key, Submit(request["client"], request["key"], request["body"]))
        submit.attempts.append(attempt)
    return found


def cancels(records: Iterable[dict[str, Any]]) -> list[Attempt]:
    return [a for a in attempts(records) if a.request.get("op") == "cancel"]


def faults(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r["kind"] == "fault"]
