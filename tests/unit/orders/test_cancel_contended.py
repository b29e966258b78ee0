"""A cancel whose order keeps changing under it (the matcher filling it between each read and
write, CANCEL_ROUNDS times) is a 503 to retry, never a 500 nor a wrong 404."""

from __future__ import annotations

import pytest

from orders import services, storage
from tulip.config import load_config
from tulip.errors import Unavailable


def test_a_contended_cancel_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load_config({"TULIP_ENV": "test"})
    rounds: list[str] = []

    def contended(order_id: str, client_id: str, now: str, region: str) -> None:
        rounds.append(order_id)
        raise storage.CancelContended(order_id)

    monkeypatch.setattr(services, "_refuse_denied", lambda cfg: None)
    monkeypatch.setattr(storage, "cancel_if_open", contended)
    with pytest.raises(Unavailable) as raised:
        services.cancel_order(cfg, "client-a", {"orderId": "a" * 32})
    assert rounds == ["a" * 32]
    assert raised.value.details == {"orderId": "a" * 32}
