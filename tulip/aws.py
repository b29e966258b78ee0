"""boto3 clients built from configuration: the local moto server when AWS_ENDPOINT_URL is set,
real AWS otherwise. Clients are thread-safe and cached per process (creating one costs ~50 ms)."""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

from tulip import attribute_codec
from tulip.config import Config

# botocore's JSON protocol without its per-value walk over DynamoDB attribute values, for every
# client this process creates from here on, PynamoDB's too (tulip/attribute_codec.py says why).
attribute_codec.install()

_lock = threading.Lock()
_clients: dict[tuple[str, str | None, str, str], Any] = {}

# A fixed User-Agent header: botocore otherwise assembles its structured one (SDK, OS, language,
# features: a few dozen components, each sanitised character by character) twice per request,
# about a seventh of a GetItem's client CPU here (docs/benchmarks.md, "botocore's walk over
# attribute values"). AWS reads it for its own statistics only.
USER_AGENT = "tulipbroker"
# Product calls: a few quick retries for throttling/5xx, bounded timeouts so a dead dependency
# turns into a 503 quickly instead of hanging a request.
PRODUCT = BotoConfig(
    connect_timeout=2, read_timeout=10, retries={"max_attempts": 3, "mode": "standard"},
    max_pool_connections=50, user_agent=USER_AGENT,
)
# The matcher's hot path: requests built by our own code from engine events (shapes pinned by the
# storage tests), so botocore's client-side walk over every attribute of every item (a per-item
# cost on ~30-item transactions) buys nothing there. AWS still validates every request.
MATCHER = PRODUCT.merge(BotoConfig(parameter_validation=False))
# Health probes: one try, short timeouts.
PROBE = BotoConfig(connect_timeout=1, read_timeout=2, retries={"max_attempts": 1},
                   user_agent=USER_AGENT)


PROFILES = {"product": PRODUCT, "matcher": MATCHER, "probe": PROBE}

# The local stand-in (moto) accepts any credentials: these fixed dummies are what every client
# of it uses, so a developer's real keys never reach it.
LOCAL_ACCESS_KEY_ID = "testing"
LOCAL_SECRET_ACCESS_KEY = "testing"
LOCAL_CREDENTIALS: dict[str, str] = {"aws_access_key_id": LOCAL_ACCESS_KEY_ID,
                                     "aws_secret_access_key": LOCAL_SECRET_ACCESS_KEY}
LOCAL_CREDENTIALS_ENV: dict[str, str] = {name.upper(): value
                                         for name, value in LOCAL_CREDENTIALS.items()}


def client(service: str, cfg: Config, profile: str = "product", region: str | None = None) -> Any:
    """A cached client of `service` in this process's region, or in `region` (another region's
    replica, the user pool's region)."""
    region = region or cfg.aws_region
    key = (service, cfg.aws_endpoint_url, region, profile)
    with _lock:
        existing = _clients.get(key)
        if existing is not None:
            return existing
        kwargs: dict[str, Any] = {
            "region_name": region,
            "config": PROFILES[profile],
        }
        if cfg.aws_endpoint_url:
            kwargs["endpoint_url"] = cfg.aws_endpoint_url
            kwargs.update(LOCAL_CREDENTIALS)
        session: Any = boto3.session.Session()
        made = session.client(service, **kwargs)
        _clients[key] = made
        return made
