"""Reading synthesized CloudFormation the way cdk-nag does (no aws_cdk import: the tests use it
on the templates, deploy/nag.py on the construct tree)."""

from __future__ import annotations

import json
from typing import Any


def flatten(reference: Any) -> str:
    """cdk-nag's flattenCfnReference: a CloudFormation value as the flat string it reports."""
    if reference is None:
        return ""
    if isinstance(reference, str):
        return reference.replace("${", "<").replace("}", ">")
    if isinstance(reference, dict):
        if reference.get("Fn::Join"):
            delimiter, items = reference["Fn::Join"]
            return str(delimiter).join(flatten(item) for item in items)
        if reference.get("Fn::Sub"):
            return flatten(reference["Fn::Sub"])
        if reference.get("Fn::GetAtt"):
            resource, attribute = reference["Fn::GetAtt"]
            return f"<{flatten(resource)}.{flatten(attribute)}>"
        if reference.get("Fn::ImportValue"):
            return flatten(reference["Fn::ImportValue"])
        if reference.get("Ref"):
            return f"<{flatten(reference['Ref'])}>"
    return json.dumps(reference, separators=(",", ":"))


def wildcard_findings(document: Any) -> list[str]:
    """cdk-nag's IAM5 findings of one policy document (Allow statements only)."""
    findings: dict[str, None] = {}
    for statement in (document or {}).get("Statement", []):
        if statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action", [])
        for action in actions if isinstance(actions, list) else [actions]:
            if isinstance(action, str) and "*" in action:
                findings[f"Action::{action}"] = None
        resources = statement.get("Resource", [])
        for resource in resources if isinstance(resources, list) else [resources]:
            flat = flatten(resource)
            if "*" in flat:
                findings[f"Resource::{flat}"] = None
    return list(findings)
