"""The deployed tables are the schema of record's (tulip.schema.TABLES): the synthesized global
tables must have exactly the keys, attribute types, indexes, stream view and TTL that
`schema.create_table_request` gives local provisioning, plus what only a deployment has:
replicas in every configured region, PITR, deletion protection, a customer-managed key each."""

from __future__ import annotations

from typing import Any

import pytest

from deploy.config import DeployConfig
from tests.unit.deploy.conftest import Assembly
from tulip import schema

CFG = DeployConfig()


def _global_tables(assembly: Assembly) -> dict[str, dict[str, Any]]:
    tables = assembly.resources("TulipGlobal", "AWS::DynamoDB::GlobalTable").values()
    return {table["Properties"]["TableName"]: table for table in tables}


def _key_shape(key_schema: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(key["AttributeName"], key["KeyType"]) for key in key_schema]


@pytest.mark.parametrize("spec", schema.TABLES, ids=lambda spec: spec.role)
def test_table_is_generated_from_the_schema(assembly: Assembly, spec: schema.TableSpec) -> None:
    name = CFG.table_name(spec.role)
    expected = schema.create_table_request(spec, name)
    table = _global_tables(assembly)[name]
    props = table["Properties"]
    assert props["BillingMode"] == expected["BillingMode"]
    assert _key_shape(props["KeySchema"]) == _key_shape(expected["KeySchema"])
    assert sorted((a["AttributeName"], a["AttributeType"]) for a in props["AttributeDefinitions"]) \
        == sorted((a["AttributeName"], a["AttributeType"]) for a in expected["AttributeDefinitions"])
    deployed = {index["IndexName"]: (_key_shape(index["KeySchema"]), index["Projection"])
                for index in props.get("GlobalSecondaryIndexes", [])}
    wanted = {index["IndexName"]: (_key_shape(index["KeySchema"]), index["Projection"])
              for index in expected["GlobalSecondaryIndexes"]}
    assert deployed == wanted
    assert props["StreamSpecification"] == {
        "StreamViewType": expected["StreamSpecification"]["StreamViewType"]}
    if spec.ttl_attribute:
        assert props["TimeToLiveSpecification"] == {"AttributeName": spec.ttl_attribute,
                                                    "Enabled": True}
    else:
        assert "TimeToLiveSpecification" not in props
    assert table["DeletionPolicy"] == "Retain"


@pytest.mark.parametrize("spec", schema.TABLES, ids=lambda spec: spec.role)
def test_replicas_everywhere_with_pitr_and_their_regions_key(assembly: Assembly,
                                                             spec: schema.TableSpec) -> None:
    props = _global_tables(assembly)[CFG.table_name(spec.role)]["Properties"]
    assert props["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS"}
    replicas = {replica["Region"]: replica for replica in props["Replicas"]}
    assert sorted(replicas) == sorted(CFG.regions)
    for region, replica in replicas.items():
        assert replica["PointInTimeRecoverySpecification"] == {
            "PointInTimeRecoveryEnabled": True}
        assert replica["DeletionProtectionEnabled"] is True
        key = replica["SSESpecification"]["KMSMasterKeyId"]
        flat = _flatten(key)
        assert flat.endswith(f":kms:{region}:<AWS::AccountId>:{CFG.data_key_alias}"), flat
    assert props.get("MultiRegionConsistency", "EVENTUAL") == "EVENTUAL"


def test_every_keys_stack_owns_the_alias_the_replicas_name(assembly: Assembly) -> None:
    for region in CFG.regions:
        stack = CFG.stack_name("Keys", region)
        aliases = assembly.resources(stack, "AWS::KMS::Alias").values()
        assert [alias["Properties"]["AliasName"] for alias in aliases] == [CFG.data_key_alias]
        (key,) = assembly.resources(stack, "AWS::KMS::Key").values()
        assert key["Properties"]["EnableKeyRotation"] is True


def _flatten(value: Any) -> str:
    from deploy.cfn import flatten

    return flatten(value)
