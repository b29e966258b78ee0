"""The patched moto server warms every service it stands in for before serving, then freezes its
start-up heap (tulip/heap.py), so full collections walk only what arrived since. Run in a child
process: freezing is process-wide, and this test process's moto stays stock."""

from __future__ import annotations

import json
import subprocess
import sys

from devstack.warm_up import WARM_CALLS

from .support import REPO

CHILD = """
import gc, json
from devstack import moto_patches
moto_patches.apply_all()
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from tulip.heap import freeze_startup_heap
from devstack.warm_up import warm_up
app = DomainDispatcherApplication(create_backend_app)
before = len(gc.get_objects())
warmed = warm_up(app, "http://127.0.0.1:1", "us-east-1")
loaded = len(gc.get_objects()) - before
frozen = freeze_startup_heap()
print(json.dumps({"warmed": warmed, "loaded": loaded, "frozen": frozen,
                  "walked": len(gc.get_objects())}))
"""


def test_every_service_is_warmed_and_the_startup_heap_frozen() -> None:
    out = subprocess.run([sys.executable, "-c", CHILD], cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    # Each warm call went through botocore and the app and answered 2xx.
    assert report["warmed"] == [service for service, _, _ in WARM_CALLS]
    # It loaded what the first real requests would have (backends, service models) ...
    assert report["loaded"] > 20_000
    # ... and a full collection now walks a small fraction of the start-up heap.
    assert report["frozen"] > report["loaded"]
    assert report["walked"] < report["frozen"] / 10
