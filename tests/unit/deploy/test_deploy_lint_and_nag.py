"""cfn-lint is clean on every synthesized template, and cdk-nag's AwsSolutions pack passed: the
synth would have failed on any finding not acknowledged in code, and every acknowledgment that
reached the templates carries its reason."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.unit.deploy.conftest import REPO, Assembly

# Rules acknowledged somewhere in the app, each with its reason next to the construct
# (deploy/stacks/*.py). A new kind of acknowledgment is a decision: add it here on purpose.
ACKNOWLEDGED = {
    "AwsSolutions-COG2", "AwsSolutions-COG8", "AwsSolutions-EC23", "AwsSolutions-ECS2",
    "AwsSolutions-ELB2", "AwsSolutions-IAM4", "AwsSolutions-IAM5", "AwsSolutions-RDS6",
    "AwsSolutions-S1", "AwsSolutions-SMG4",
}


def test_cfn_lint_is_clean(assembly: Assembly) -> None:
    templates = sorted(str(path) for path in Path(assembly.directory).glob("*.template.json"))
    assert len(templates) == 5
    result = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), "--config-file",
         str(REPO / "deploy" / ".cfnlintrc.yaml"), "--", *templates],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_nag_acknowledgment_has_a_reason(assembly: Assembly) -> None:
    seen: set[str] = set()
    for stack, template in assembly.templates.items():
        for name, resource in template["Resources"].items():
            for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
                if not rule["id"].startswith("AwsSolutions-"):
                    continue  # the CDK's own CloudFormation-Validate acknowledgments
                assert len(rule["reason"]) >= 40, (stack, name, rule)
                seen.add(rule["id"].split("[")[0])
    assert seen == ACKNOWLEDGED


def test_nag_fails_the_synth_on_an_unacknowledged_finding(tmp_path: Path) -> None:
    """The pack is really applied: a public, unencrypted queue fails `app.synth()`."""
    script = (
        "import os, sys\n"
        "os.environ.setdefault('JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION', '20')\n"
        "import aws_cdk as cdk\n"
        "from aws_cdk import aws_sqs as sqs\n"
        "from deploy import nag\n"
        f"app = cdk.App(outdir={str(tmp_path)!r})\n"
        "stack = cdk.Stack(app, 'Bad', env=cdk.Environment(region='us-east-1'))\n"
        "sqs.Queue(stack, 'Q', encryption=sqs.QueueEncryption.UNENCRYPTED)\n"
        "nag.apply(app)\n"
        "try:\n"
        "    app.synth()\n"
        "except RuntimeError as exc:\n"
        "    print('FAILED', str(exc).splitlines()[0]); sys.exit(0)\n"
        "sys.exit(1)\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAILED" in result.stdout
    assert "SQS Queue does not have server-side encryption enabled. (AwsSolutions)" in \
        result.stdout
