"""The synthesized cloud assembly, once per test session (shared by every xdist worker: the first
one synthesizes under a file lock, the others read its output).

The synth runs `python -m deploy.app` as `make synth` does, with every AWS credential variable
removed and, where the machine allows it (`unshare -rn`), in a network namespace with no network
at all: what it writes was produced offline.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
STACKS = ("TulipKeysUsEast1", "TulipKeysUsWest2", "TulipGlobal", "TulipRegionUsEast1",
          "TulipRegionUsWest2")
SYNTH_TIMEOUT_S = 600


@dataclass
class Assembly:
    directory: Path
    manifest: dict[str, Any]
    templates: dict[str, dict[str, Any]]
    offline: str  # how the synth was kept off the network
    seconds: float
    log: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def resources(self, stack: str, kind: str | None = None) -> dict[str, dict[str, Any]]:
        items = self.templates[stack]["Resources"].items()
        return {name: res for name, res in items if kind is None or res["Type"] == kind}

    def region_stacks(self) -> list[str]:
        return [name for name in self.templates if name.startswith("TulipRegion")]


def _offline_prefix() -> tuple[list[str], str]:
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-rn", "true"], capture_output=True).returncode == 0:
        return [unshare, "-rn"], "no network namespace (unshare -rn)"
    return [], "no AWS credentials (network namespaces unavailable here)"


def _synthesize(outdir: Path) -> tuple[str, float, str]:
    if shutil.which("node") is None:
        pytest.fail("Node.js is required by the CDK app (jsii): apt-get install nodejs")
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("AWS_", "CDK_")) and key not in ("PYTHONPATH",)}
    env.update({"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/dev/null",
                "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"})
    prefix, offline = _offline_prefix()
    started = time.monotonic()
    result = subprocess.run(
        [*prefix, sys.executable, "-m", "deploy.app", "--outdir", str(outdir)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=SYNTH_TIMEOUT_S)
    seconds = time.monotonic() - started
    log = result.stdout + result.stderr
    if result.returncode != 0:
        pytest.fail(f"deploy synth failed ({result.returncode}):\n{log[-4000:]}")
    return offline, seconds, log


@pytest.fixture(scope="session")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assembly]:
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the directory every worker of this run shares
    root = shared / "deploy-synth"
    root.mkdir(exist_ok=True)
    outdir, done = root / "cdk.out", root / "done.json"
    with open(root / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            offline, seconds, log = _synthesize(outdir)
            done.write_text(json.dumps({"offline": offline, "seconds": seconds, "log": log}))
        info = json.loads(done.read_text())
    manifest = json.loads((outdir / "manifest.json").read_text())
    templates = {name: json.loads((outdir / f"{name}.template.json").read_text())
                 for name, artifact in manifest["artifacts"].items()
                 if artifact.get("type") == "aws:cloudformation:stack"}
    yield Assembly(outdir, manifest, templates, info["offline"], info["seconds"], info["log"])
