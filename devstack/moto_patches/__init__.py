"""Fixes applied to moto before the local stand-in server starts serving.

This is code for the local AWS stand-in only (``python -m devstack.moto_server``).
Nothing in the product imports it, and against real AWS it is never loaded. Each fix lives in
its own module, is small, is named, and says why it exists. The fixes monkeypatch moto's
internals, so they are written against exactly one moto release: ``EXPECTED_MOTO_VERSION``.
"""

from __future__ import annotations

from types import ModuleType

EXPECTED_MOTO_VERSION = "5.2.5"


class MotoVersionMismatch(RuntimeError):
    """The installed moto is not the release these patches were written against."""


def check_moto_version() -> None:
    import moto

    found = getattr(moto, "__version__", "unknown")
    if found != EXPECTED_MOTO_VERSION:
        raise MotoVersionMismatch(
            f"tulip moto patches need moto=={EXPECTED_MOTO_VERSION}, found moto=={found}"
        )


_applied: list[str] = []


def fix_modules() -> list[ModuleType]:
    """The fix modules, in the order they are applied (each has ``NAME`` and ``apply()``)."""
    from . import (
        core_name_lookups,
        dynamodb_ast_traversal,
        dynamodb_expression_cache,
        dynamodb_item_size,
        dynamodb_projection,
        dynamodb_query_partition,
        dynamodb_read_responses,
        dynamodb_request_parse,
        dynamodb_simple_updates,
        dynamodb_streams,
        dynamodb_transactions,
        dynamodb_type_fast_paths,
        dynamodb_update_insert,
        model_tracking,
        server_direct_dispatch,
        server_header_parse,
        server_service_names,
        sqs_fifo,
        sqs_queue_depth,
        sqs_receipt_handles,
    )

    return [
        model_tracking,
        dynamodb_transactions,
        dynamodb_streams,
        dynamodb_update_insert,
        dynamodb_simple_updates,
        dynamodb_expression_cache,
        dynamodb_ast_traversal,
        dynamodb_item_size,
        dynamodb_projection,
        dynamodb_query_partition,
        dynamodb_read_responses,
        dynamodb_request_parse,
        dynamodb_type_fast_paths,
        sqs_fifo,
        sqs_queue_depth,
        sqs_receipt_handles,
        server_service_names,
        core_name_lookups,
        server_direct_dispatch,
        server_header_parse,
    ]


def apply_all() -> list[str]:
    """Apply every fix once (idempotent); return the names of the applied fixes, in order."""
    check_moto_version()
    if not _applied:
        for module in fix_modules():
            module.apply()
            _applied.append(module.NAME)
    return list(_applied)
