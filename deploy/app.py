"""The CDK app (docs/deploy.md). `make synth` runs it as `python -m deploy.app`: it writes the
cloud assembly (CloudFormation templates and asset manifests) to deploy/cdk.out without AWS
credentials or network; `cdk deploy` (deploy/cdk.json) runs the same module.

Stacks, in deploy order:
  TulipKeys<Region>    per region: the customer-managed KMS key (alias/tulip-data)
  TulipGlobal          leader region: the global tables (replicas everywhere), the user pool
  TulipRegion<Region>  per region: everything else (deploy/stacks/region.py)
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from typing import Any

# jsii (the CDK's Node.js bridge) warns at length that Debian's Node.js 20 is past its end of
# life; it works, and README names Node.js as a prerequisite. Set before aws_cdk is imported.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")

import aws_cdk as cdk

from deploy import nag
from deploy.config import DeployConfig, from_context
from deploy.stacks.global_stack import GlobalStack
from deploy.stacks.keys import KeysStack
from deploy.stacks.region import RegionStack

CONTEXT_KEYS = ("regions", "symbols", "account", "mrsc", "witnessRegion", "domainName",
                "hostedZoneId", "fisNetworkFaults", "alarmEmail", "sizes")
DEFAULT_OUTDIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cdk.out")


def build_app(context: Mapping[str, Any] | None = None, outdir: str | None = None) -> cdk.App:
    app = cdk.App(outdir=outdir, context=dict(context or {}))
    values = {key: app.node.try_get_context(key) for key in CONTEXT_KEYS}
    cfg = from_context({key: value for key, value in values.items() if value is not None})
    add_stacks(app, cfg)
    nag.apply(app)
    return app


def add_stacks(app: cdk.App, cfg: DeployConfig) -> dict[str, cdk.Stack]:
    cdk.Tags.of(app).add("project", "tulipbroker")
    stacks: dict[str, cdk.Stack] = {}
    keys: dict[str, KeysStack] = {}
    for region in cfg.regions:
        keys[region] = KeysStack(
            app, cfg.stack_name("Keys", region), cfg=cfg,
            env=cdk.Environment(account=cfg.account, region=region),
            description=f"TulipBroker: the data key of {region}")
        stacks[keys[region].stack_name] = keys[region]
    global_stack = GlobalStack(
        app, cfg.stack_name("Global"), cfg=cfg,
        env=cdk.Environment(account=cfg.account, region=cfg.leader_region),
        description="TulipBroker: global tables and the user pool")
    for key_stack in keys.values():
        global_stack.add_stack_dependency(key_stack, "replicas are encrypted with each region's key")
    stacks[global_stack.stack_name] = global_stack
    for region in cfg.regions:
        regional = RegionStack(
            app, cfg.stack_name("Region", region), cfg=cfg, data_key=keys[region].key,
            env=cdk.Environment(account=cfg.account, region=region),
            description=f"TulipBroker in {region}: services, queues, alarms, chaos, gate")
        regional.add_stack_dependency(global_stack, "services use the tables and the user pool")
        stacks[regional.stack_name] = regional
    return stacks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.app", description=__doc__)
    parser.add_argument("--outdir", default=os.environ.get("CDK_OUTDIR", DEFAULT_OUTDIR))
    args = parser.parse_args(argv)
    try:
        app = build_app(outdir=args.outdir)
        assembly = app.synth()
    except ValueError as exc:  # a bad context value (deploy/config.py)
        print(f"deploy: configuration error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:  # jsii surfaces CDK errors, cdk-nag's findings included
        print(f"deploy: synth failed: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    print(f"deploy: {len(assembly.stacks)} stacks written to {assembly.directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
