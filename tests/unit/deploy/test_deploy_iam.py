"""Least privilege, checked on every policy document of every synthesized template: no data-plane
grant (DynamoDB, SQS, S3, KMS) has a wildcard action or a '*' resource, and no Allow anywhere
grants a service-wide action ("*" or "service:*").

A resource that ends in a wildcard is allowed only where it stands for a table's own indexes or
streams, or an object prefix of the app's bucket; a KMS key policy's Resource is "*" by design
(it means "this key"), so there the principal is what must not be "*".
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from deploy.cfn import flatten
from tests.unit.deploy.conftest import Assembly

DATA_PLANE = ("dynamodb", "sqs", "s3", "kms")
SCOPED_WILDCARDS = ("/index/*", "/stream/*", "/load-reports/*")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _documents(resource: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    props = resource.get("Properties", {})
    kind = resource["Type"]
    if kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        yield "identity", props["PolicyDocument"]
    elif kind == "AWS::IAM::Role":
        for policy in props.get("Policies", []):
            yield "identity", policy["PolicyDocument"]
    elif kind == "AWS::KMS::Key":
        yield "key", props["KeyPolicy"]
    elif kind in ("AWS::SQS::QueuePolicy", "AWS::S3::BucketPolicy", "AWS::SNS::TopicPolicy"):
        yield "resource", props["PolicyDocument"]


def _statements(assembly: Assembly) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    for stack, template in assembly.templates.items():
        for name, resource in template["Resources"].items():
            for kind, document in _documents(resource):
                for statement in _as_list(document["Statement"]):
                    yield stack, name, kind, statement


def test_policies_were_found(assembly: Assembly) -> None:
    kinds = {kind for _, _, kind, _ in _statements(assembly)}
    assert kinds == {"identity", "key", "resource"}


def test_no_service_wide_action_is_allowed_anywhere(assembly: Assembly) -> None:
    for stack, name, _kind, statement in _statements(assembly):
        if statement["Effect"] != "Allow":
            continue
        for action in _as_list(statement["Action"]):
            assert action != "*" and not action.endswith(":*"), (stack, name, action)


def test_no_wildcard_on_any_data_plane_grant(assembly: Assembly) -> None:
    checked = 0
    for stack, name, kind, statement in _statements(assembly):
        if statement["Effect"] != "Allow":
            continue  # the enforce-TLS Deny statements name every principal and action on purpose
        actions = _as_list(statement["Action"])
        if not any(action.split(":")[0] in DATA_PLANE for action in actions):
            continue
        checked += 1
        where = (stack, name, actions)
        assert not any("*" in action for action in actions), where
        if kind == "key":
            assert statement["Principal"] != "*" and statement["Principal"] != {"AWS": "*"}, where
            continue
        for resource in _as_list(statement["Resource"]):
            flat = flatten(resource)
            assert flat != "*", where
            if "*" in flat:
                assert flat.endswith(SCOPED_WILDCARDS) and flat.count("*") == 1, (where, flat)
                assert not flat.endswith(("table/*", "table/tulip-*")), (where, flat)
    assert checked > 20


def test_task_roles_touch_only_their_tables_and_queues(assembly: Assembly) -> None:
    """Spot check of the split: the projector cannot write, the worker cannot delete."""
    for stack in assembly.region_stacks():
        policies = {name: resource for name, resource in assembly.resources(
            stack, "AWS::IAM::Policy").items()}
        for name, policy in policies.items():
            actions = {action for statement in policy["Properties"]["PolicyDocument"]["Statement"]
                       for action in _as_list(statement["Action"])}
            if name.startswith("ProjectorTaskRole"):
                assert not actions & {"dynamodb:PutItem", "dynamodb:UpdateItem",
                                      "dynamodb:DeleteItem", "sqs:SendMessage"}, actions
            if name.startswith(("WorkerTaskRole", "WebTaskRole")):
                assert "dynamodb:DeleteItem" not in actions
