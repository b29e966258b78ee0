"""`make synth`'s promise: every stack's CloudFormation, written with no AWS credentials and no
network, and nothing in it that would need either (no context lookups)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.unit.deploy.conftest import REPO, STACKS, Assembly


def test_every_stack_is_synthesized_offline_in_its_region(assembly: Assembly) -> None:
    stacks = {name: artifact for name, artifact in assembly.manifest["artifacts"].items()
              if artifact.get("type") == "aws:cloudformation:stack"}
    assert sorted(stacks) == sorted(STACKS)
    regions = {name: artifact["environment"].rsplit("/", 1)[1] for name, artifact in stacks.items()}
    assert regions == {"TulipKeysUsEast1": "us-east-1", "TulipKeysUsWest2": "us-west-2",
                       "TulipGlobal": "us-east-1", "TulipRegionUsEast1": "us-east-1",
                       "TulipRegionUsWest2": "us-west-2"}
    # Environment-agnostic account: nothing was looked up in an account.
    assert all("unknown-account" in artifact["environment"] for artifact in stacks.values())
    assert "missing" not in assembly.manifest  # no unresolved context lookups
    assert not (REPO / "deploy" / "cdk.context.json").exists()
    assert "stacks written" in assembly.log, assembly.log
    print(f"synth: {assembly.seconds:.1f} s, {assembly.offline}")


def test_deploy_order_is_keys_then_global_then_regions(assembly: Assembly) -> None:
    artifacts = assembly.manifest["artifacts"]

    def depends(name: str) -> set[str]:
        return {dep for dep in artifacts[name].get("dependencies", [])
                if not dep.endswith(".assets")}

    assert depends("TulipGlobal") == {"TulipKeysUsEast1", "TulipKeysUsWest2"}
    for region_stack in ("TulipRegionUsEast1", "TulipRegionUsWest2"):
        keys = region_stack.replace("Region", "Keys")
        assert {"TulipGlobal", keys} <= depends(region_stack)


def test_a_bad_context_value_is_one_line_and_exit_2(tmp_path: Path) -> None:
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps({"regions": "us-east-1,nowhere"})}
    result = subprocess.run([sys.executable, "-m", "deploy.app", "--outdir", str(tmp_path)],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "deploy: configuration error: regions: not an AWS region name: 'nowhere'")
