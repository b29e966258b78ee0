"""The server refuses any moto other than the release the fixes were written against."""

from __future__ import annotations

import subprocess
import sys

from devstack import moto_patches

from .support import REPO


def test_refuses_other_moto_version() -> None:
    code = (
        "import moto, sys; moto.__version__ = '9.9.9'\n"
        "from devstack.moto_server import main\n"
        "sys.exit(main(['--port', '1']))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    lines = (out.stdout + out.stderr).strip().splitlines()
    assert lines == ["tulip moto patches need moto==5.2.5, found moto==9.9.9"]


def test_expected_version_is_installed_and_fixes_are_named() -> None:
    import moto

    assert moto_patches.EXPECTED_MOTO_VERSION == moto.__version__ == "5.2.5"
    # Applied in a child process: this test process's moto stays stock.
    code = (
        "from devstack.moto_patches import apply_all, fix_modules\n"
        "names = apply_all(); assert apply_all() == names\n"
        "assert names == [m.NAME for m in fix_modules()]\n"
        "print(','.join(names))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().split(",") == [
        "model_tracking",
        "dynamodb_transactions",
        "dynamodb_streams",
        "dynamodb_update_insert",
        "dynamodb_simple_updates",
        "dynamodb_expression_cache",
        "dynamodb_ast_traversal",
        "dynamodb_item_size",
        "dynamodb_projection",
        "dynamodb_query_partition",
        "dynamodb_read_responses",
        "dynamodb_request_parse",
        "dynamodb_type_fast_paths",
        "sqs_fifo",
        "sqs_queue_depth",
        "sqs_receipt_handles",
        "server_service_names",
        "core_name_lookups",
        "server_direct_dispatch",
        "server_header_parse",
    ]
