"""What the matcher needs from a fan-out after each commit. `realtime/` implements it; the
composition root wires it, so `matching/` never imports `realtime/` (design §1)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol


class Publisher(Protocol):
    def publish_book_snapshot(self, symbol: str, snapshot: dict[str, Any]) -> None:
        """Store the top-of-book snapshot (Redis) that GET /book serves."""

    def publish(self, group: str, messages: Sequence[dict[str, Any]]) -> None:
        """Send WebSocket messages (design §5 shapes) to a group: `trades.<symbol>`,
        `book.<symbol>` or `orders.<clientId>`. Best effort: failures are logged, not raised."""

    def publish_groups(self, batch: Mapping[str, Sequence[dict[str, Any]]]) -> None:
        """`publish` for every group of a committed batch at once (each group's messages in
        order), so a fan-out can spend its round trips per batch rather than per message."""

    def resume(self, symbol: str, last_seq: int) -> None:
        """The matcher publishes `symbol` from `last_seq` on (at its start): learn where the
        topics' seq chains stand and open connections now, not during the first batch."""


class NullPublisher:
    """For tools and benchmarks that commit without fan-out."""

    def publish_book_snapshot(self, symbol: str, snapshot: dict[str, Any]) -> None:
        return None

    def publish(self, group: str, messages: Sequence[dict[str, Any]]) -> None:
        return None

    def publish_groups(self, batch: Mapping[str, Sequence[dict[str, Any]]]) -> None:
        return None

    def resume(self, symbol: str, last_seq: int) -> None:
        return None
