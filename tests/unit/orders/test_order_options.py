"""Self-trade prevention on POST /order (docs/api.md): the modes the engine has, camelCase in the API,
stored only when not the default, in the fingerprint only when not the default, and mapped by the
matcher onto the engine's own names. Also the price edge that used to slip through as 0 ticks."""

from __future__ import annotations

import pytest

from matching.engine.messages import STP_MODES as ENGINE_STP_MODES
from matching.services import STP_MODES
from orders.domain import parse_price, validate_order
from tulip.schema import DEFAULT_SELF_TRADE_PREVENTION, SELF_TRADE_PREVENTION

BODY = {"side": "BUY", "qty": 1, "price": "10.00", "idempotencyKey": "k1"}


def _validate(**extra: object):  # type: ignore[no-untyped-def]
    return validate_order({**BODY, **extra}, None, ("TULIP",), "client-1")


@pytest.mark.parametrize("mode", SELF_TRADE_PREVENTION)
def test_each_mode_is_accepted(mode: str) -> None:
    request, errors, _ = _validate(selfTradePrevention=mode)
    assert errors == {} and request is not None and request.self_trade_prevention == mode


@pytest.mark.parametrize("mode", ["decrement", "cancel_newest", "CANCELNEWEST", "", None, 1])
def test_other_modes_are_refused(mode: object) -> None:
    request, errors, _ = _validate(selfTradePrevention=mode)
    assert request is None and "selfTradePrevention" in errors


def test_default_is_cancel_newest_and_fingerprint_unchanged_by_spelling_it_out() -> None:
    omitted, _, _ = _validate()
    explicit, _, _ = _validate(selfTradePrevention="cancelNewest")
    oldest, _, _ = _validate(selfTradePrevention="cancelOldest")
    assert omitted is not None and explicit is not None and oldest is not None
    assert omitted.self_trade_prevention == DEFAULT_SELF_TRADE_PREVENTION == "cancelNewest"
    assert omitted.fingerprint() == explicit.fingerprint() != oldest.fingerprint()


def test_matcher_maps_every_api_mode_onto_an_engine_mode() -> None:
    assert set(STP_MODES) == set(SELF_TRADE_PREVENTION)
    assert set(STP_MODES.values()) == set(ENGINE_STP_MODES)
    assert STP_MODES[DEFAULT_SELF_TRADE_PREVENTION] == "cancel_newest"


@pytest.mark.parametrize("price", ["1e-999999999", "1e-30", "0.001", "0.00"])
def test_tiny_prices_are_refused_not_zero_ticks(price: str) -> None:
    ticks, error = parse_price(price)
    assert ticks is None and error


def test_exponent_and_trailing_zero_spellings_still_read() -> None:
    assert parse_price("1E+2") == (10_000, None)
    assert parse_price("101.500") == (10_150, None)
