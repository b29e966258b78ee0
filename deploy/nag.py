"""cdk-nag's AwsSolutions pack over every stack, and the two ways this app acknowledges a finding,
each with its reason written next to the construct it excuses:

- `acknowledge(construct, rule, reason)`: a whole rule on a construct and its children;
- `acknowledge_wildcards(scope, reason, allow)`: AwsSolutions-IAM5 findings (wildcards in IAM
  policies) under `scope`, only those whose finding text matches one of the `allow` patterns
  (fnmatch). cdk-nag reports IAM5 once per wildcard resource, as
  `AwsSolutions-IAM5[Resource::<flattened ARN>]`, and acknowledges only exact ids: `finalize`
  computes those ids the way cdk-nag does (a port of its flattenCfnReference) once the tree is
  complete, so a wildcard nobody allowed still fails the synth.

cdk-nag 3 reports through CDK's policy validation: a finding that is not acknowledged fails
`app.synth()` (so `make synth` and the tests' synth) and is listed in the cloud assembly's
validation-report.json; acknowledged findings are written into the templates' metadata
(`cdk_nag.rules_to_suppress`, with their reasons), which tests/unit/deploy/test_nag.py reads.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

from deploy.cfn import wildcard_findings

WILDCARD_RULE = "AwsSolutions-IAM5"


@dataclass(frozen=True)
class _Wildcards:
    scope: IConstruct
    reason: str
    allow: tuple[str, ...]


_pending: list[_Wildcards] = []


def _check_reason(rule: str, reason: str) -> None:
    if len(reason) < 40:
        raise ValueError(f"{rule}: an acknowledgment needs a real reason, got {reason!r}")


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    _check_reason(rule, reason)
    cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=rule, reason=reason))


def acknowledge_wildcards(scope: IConstruct, reason: str, allow: Sequence[str]) -> None:
    _check_reason(WILDCARD_RULE, reason)
    if not allow:
        raise ValueError("acknowledge_wildcards: name the wildcards that are allowed")
    _pending.append(_Wildcards(scope, reason, tuple(allow)))


def _policy_documents(node: IConstruct) -> Iterator[Any]:
    stack = cdk.Stack.of(node)
    if isinstance(node, iam.CfnPolicy | iam.CfnManagedPolicy):
        yield stack.resolve(node.policy_document)
    elif isinstance(node, iam.CfnRole) and node.policies is not None:
        for policy in stack.resolve(node.policies) or []:
            yield stack.resolve(policy)["policyDocument"] if "policyDocument" in policy \
                else policy.get("PolicyDocument")


def _within(node: IConstruct, scope: IConstruct) -> bool:
    path, root = node.node.path, scope.node.path
    return path == root or path.startswith(root + "/")


def finalize(app: cdk.App) -> None:
    """Acknowledge the allowed IAM5 findings (after every grant was added, before synth)."""
    registrations = [item for item in _pending if item.scope.node.root is app]
    for node in app.node.find_all():
        scopes = [item for item in registrations if _within(node, item.scope)]
        if not scopes:
            continue
        for document in _policy_documents(node):
            for finding in wildcard_findings(document):
                for item in scopes:
                    if any(fnmatch.fnmatchcase(finding, pattern) for pattern in item.allow):
                        cdk.Validations.of(node).acknowledge(cdk.Acknowledgment(
                            id=f"{WILDCARD_RULE}[{finding}]", reason=item.reason))
                        break


def apply(app: cdk.App) -> None:
    finalize(app)
    cdk.Validations.of(app).add_plugins(
        AwsSolutionsChecks(app, write_suppressions_to_cloud_formation=True))
