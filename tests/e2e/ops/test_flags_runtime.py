"""Feature flags edited at runtime take effect across processes: the override row written by
another process (as the admin does) turns denyWrites on for the running HTTP server within ~1 s,
and clearing it restores writes."""

import time
import uuid

from tests.e2e.ops.conftest import manage


def _set_deny(stack, value):
    result = manage(stack, "shell", "-c",
                    "from tulip.models import FeatureFlagOverride as F; "
                    f"F.objects.update_or_create(pk=1, defaults={{'deny_writes': {value}}})")
    assert result.returncode == 0, result.stderr


def _submit(http):
    return http.post("/order", json={"side": "BUY", "qty": 1, "price": "1.00",
                                     "idempotencyKey": uuid.uuid4().hex})


def _wait_status(http, wanted, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        status = _submit(http).status_code
        if status == wanted or time.monotonic() > deadline:
            return status
        time.sleep(0.3)


def test_deny_writes_override_reaches_the_server(console_stack):
    with console_stack.http(console_stack.token("alice")) as http:
        assert _submit(http).status_code == 201
        _set_deny(console_stack, True)
        try:
            assert _wait_status(http, 503) == 503
        finally:
            _set_deny(console_stack, None)
        assert _wait_status(http, 201) == 201
