"""TulipBroker's Python client, for traders and for the project's load and chaos tests.

- `TulipClient`: REST with bounded retries that reuse the idempotency key (a retried submit can
  never create a second order), backoff with full jitter, region re-pinning by health.
- `Stream`: the WebSocket stream with reconnects (exponential backoff + full jitter), gap
  detection by `prevSeq` and automatic resync (`GET /poll`, or a fresh book snapshot), and
  fallback to `GET /poll` after repeated socket failures — and back to the socket once it
  connects again.
- `RegionPicker`: which configured region endpoint to use; re-pins by `GET /region` to the
  healthy leader, else the first healthy region.
- `Backoff`: exponential backoff with full jitter.

Depends on `httpx` and `websockets` only; it imports nothing of the server. The HTTP and
WebSocket contract it speaks is described in docs/realtime.md of the TulipBroker repository."""

from tulip_client.backoff import Backoff
from tulip_client.errors import ApiError, StreamFatal
from tulip_client.regions import RegionPicker
from tulip_client.rest import RETRY_STATUSES, TulipClient
from tulip_client.stream import (
    CLOSE_SLOW_CONSUMER,
    CLOSE_UNAUTHORIZED,
    Message,
    Stream,
    StreamStats,
)

__all__ = [
    "CLOSE_SLOW_CONSUMER",
    "CLOSE_UNAUTHORIZED",
    "RETRY_STATUSES",
    "ApiError",
    "Backoff",
    "Message",
    "RegionPicker",
    "Stream",
    "StreamFatal",
    "StreamStats",
    "TulipClient",
]
__version__ = "0.1.0"
