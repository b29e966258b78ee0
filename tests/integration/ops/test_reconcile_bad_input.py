"""Bad command-line input is one clear line on stderr and a non-zero exit, never a traceback."""

import pytest

from tests.integration.ops.ledger_plant import run_manage


@pytest.mark.parametrize(("args", "message"), [
    (["--since", "yesterday-ish"], "--since"),
    (["--symbol", "bad symbol!"], "--symbol"),
    (["--unseen-age", "-5"], "--unseen-age"),
])
def test_bad_input_is_one_clear_line(ops_stack, args, message):
    result = run_manage(ops_stack, "reconcile", *args)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert message in result.stderr
