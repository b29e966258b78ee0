"""DynamoDB global tables generated from the schema of record (`tulip.schema.TABLES`).

Keys, indexes, TTL and the stream view come from each `TableSpec`, exactly as local provisioning
(`devstack/provision.py`) builds `schema.create_table_request` from the same spec: nothing here
names an attribute. tests/unit/deploy/test_tables.py compares the synthesized tables with
`create_table_request`.
"""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

from deploy.config import DeployConfig
from tulip.schema import TableSpec

_TYPES: Mapping[str, dynamodb.AttributeType] = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}
_STREAMS: Mapping[str, dynamodb.StreamViewType] = {
    "NEW_AND_OLD_IMAGES": dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
    "NEW_IMAGE": dynamodb.StreamViewType.NEW_IMAGE,
    "OLD_IMAGE": dynamodb.StreamViewType.OLD_IMAGE,
    "KEYS_ONLY": dynamodb.StreamViewType.KEYS_ONLY,
}


def attribute(key: tuple[str, str]) -> dynamodb.Attribute:
    name, kind = key
    return dynamodb.Attribute(name=name, type=_TYPES[kind])


def key_alias_arn(cfg: DeployConfig, region: str) -> str:
    """The ARN of a region's data key by its alias (DynamoDB accepts an alias ARN for a replica's
    KMSMasterKeyId, so the global table needs no cross-region reference to the key itself)."""
    return cdk.Fn.join("", ["arn:", cdk.Aws.PARTITION, f":kms:{region}:", cdk.Aws.ACCOUNT_ID,
                            f":{cfg.data_key_alias}"])


def global_table(scope: Construct, cfg: DeployConfig, spec: TableSpec,
                 table_key: kms.IKey) -> dynamodb.TableV2:
    """One TableV2: on-demand, replicas in every configured region (the stack's region is the
    first replica), streams for the projector, PITR, deletion protection, the customer-managed key
    of each region."""
    replicas = [dynamodb.ReplicaTableProps(region=region) for region in cfg.regions[1:]]
    replica_keys = {region: key_alias_arn(cfg, region) for region in cfg.regions[1:]}
    return dynamodb.TableV2(
        scope, f"{spec.role.capitalize()}Table",
        table_name=cfg.table_name(spec.role),
        partition_key=attribute(spec.partition_key),
        sort_key=attribute(spec.sort_key),
        billing=dynamodb.Billing.on_demand(),
        global_secondary_indexes=[
            dynamodb.GlobalSecondaryIndexPropsV2(
                index_name=index.name,
                partition_key=attribute(index.partition_key),
                sort_key=attribute(index.sort_key),
                projection_type=dynamodb.ProjectionType.ALL)
            for index in spec.indexes],
        time_to_live_attribute=spec.ttl_attribute,
        dynamo_stream=_STREAMS[spec.stream_view],
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True),
        deletion_protection=True,
        removal_policy=cdk.RemovalPolicy.RETAIN,
        encryption=dynamodb.TableEncryptionV2.customer_managed_key(table_key, replica_keys),
        replicas=replicas,
        multi_region_consistency=(dynamodb.MultiRegionConsistency.STRONG if cfg.mrsc
                                  else dynamodb.MultiRegionConsistency.EVENTUAL),
        witness_region=cfg.witness_region,
    )
