"""``dynamodb_type_fast_paths``: string DynamoTypes hash, compare, measure and build as before, and
items measure as before, in fewer calls.

Equivalence is checked in two fresh interpreters, one with the fixes applied and one with stock
moto 5.2.5: the same values give the same hashes, equalities, sizes and stored type/value. The
saving is counted in server calls per BatchGetItem item (``test_dynamodb_transaction_item_cost``)
and per transaction item.
"""

from __future__ import annotations

import json
import subprocess
import sys

from .support import REPO

SCRIPT = r"""
import json, sys
from decimal import Decimal
if sys.argv[1] == "patched":
    from devstack.moto_patches import apply_all
    apply_all()
from moto.dynamodb.models.dynamo_type import DynamoType
raw = [{"S": "a"}, {"S": "a"}, {"S": ""}, {"S": "é€😀"}, {"N": "1"}, {"N": "1.0"}, {"N": "-0"},
       {"B": b"\x00\x01"}, {"B": "AAE="}, {"BOOL": True}, {"BOOL": False}, {"NULL": True},
       {"SS": ["b", "a"]}, {"NS": ["1", "2.50"]}, {"L": [{"S": "x"}, {"N": "2"}]},
       {"M": {"k": {"S": "v"}, "n": {"N": "3"}}}, {"S": True}, {"N": 5}]
values = [DynamoType(r) for r in raw] + [DynamoType(DynamoType({"S": "copy"}))]
out = {"built": [[v.type, repr(v.value)] for v in values],
       "size": [v.size() for v in values]}
# (hash(None) is address-based in this Python: NULL's hash is compared through moto's formula.)
hashable = [v for v in values if v.type in ("S", "N", "B", "BOOL") and not isinstance(v.value, (list, dict))]
out["hash"] = [hash(v) for v in hashable]
nulls = [DynamoType({"NULL": True})]
out["hash_formula"] = [hash(v) == hash((v.type, v.cast_value)) for v in hashable + nulls]
out["eq"] = [[a == b for b in values] for a in values]
out["ne"] = [[a != b for b in values] for a in values]
try:
    DynamoType({"S": "x"}) == "x"
    out["eq_foreign"] = "no error"
except AttributeError as exc:
    out["eq_foreign"] = type(exc).__name__
from moto.dynamodb.models.dynamo_type import Item
attrs = {"k": {"S": "k"}, "é": {"S": "ü€"}, **{f"a{i}": r for i, r in enumerate(raw)}}
item = Item(DynamoType({"S": "k"}), None, attrs)
out["item_size"] = item.size()
print(json.dumps(out, sort_keys=True))
"""


def _run(variant: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", SCRIPT, variant], cwd=REPO, capture_output=True,
                          text=True, timeout=120, env={"PYTHONHASHSEED": "0", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_same_hash_equality_size_and_value() -> None:
    stock, fixed = _run("stock"), _run("patched")
    assert stock["eq_foreign"] == "AttributeError"
    for name in stock:
        assert fixed[name] == stock[name], name
