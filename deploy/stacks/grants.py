"""Least-privilege data-plane grants, written out (never the L2 `grant*` helpers, which add
wildcard KMS actions such as kms:GenerateDataKey* and kms:ReEncrypt*).

Every statement names its actions one by one and its resources by ARN: a table and its indexes
(or streams), a queue, an object prefix, the region's key. tests/unit/deploy/test_iam.py walks
every policy of the synthesized templates to hold the app to this.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs

from deploy.config import DeployConfig

# DynamoDB actions by use. TransactWriteItems has no IAM action of its own: each item is checked
# as the Put/Update/ConditionCheck/Delete it is.
DDB_READ = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query",
            "dynamodb:ConditionCheckItem", "dynamodb:DescribeTable")
DDB_SCAN = ("dynamodb:Scan",)  # reconciliation reads the whole orders table (ops/storage.py)
DDB_WRITE = ("dynamodb:PutItem", "dynamodb:UpdateItem")
DDB_DELETE = ("dynamodb:DeleteItem",)  # the matcher's membership item on a clean stop
DDB_STREAMS = ("dynamodb:DescribeStream", "dynamodb:GetShardIterator", "dynamodb:GetRecords")

# sqs:SendMessage also authorizes SendMessageBatch (tulip/events_queue.py batches concurrent sends).
SQS_SEND = ("sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl")
SQS_CONSUME = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
               "sqs:GetQueueAttributes", "sqs:GetQueueUrl")

# How cdk-nag (AwsSolutions-IAM5) reports the index and stream ARNs above (deploy/nag.py).
NAG_TABLE_INDEXES = "Resource::arn:<AWS::Partition>:dynamodb:*:<AWS::AccountId>:table/tulip-*/index/*"
NAG_TABLE_STREAMS = "Resource::arn:<AWS::Partition>:dynamodb:*:<AWS::AccountId>:table/tulip-*/stream/*"

# SSE-KMS queues: a producer needs a data key, a consumer needs to decrypt it.
KMS_PRODUCE = ("kms:GenerateDataKey", "kms:Decrypt")
KMS_CONSUME = ("kms:Decrypt",)


def table_arn(cfg: DeployConfig, region: str, role: str) -> str:
    """The table's replica in `region` (every replica has the table's name)."""
    return cdk.Fn.join("", ["arn:", cdk.Aws.PARTITION, f":dynamodb:{region}:",
                            cdk.Aws.ACCOUNT_ID, f":table/{cfg.table_name(role)}"])


def table_resources(cfg: DeployConfig, region: str, role: str, *,
                    indexes: bool = True, streams: bool = False) -> list[str]:
    arn = table_arn(cfg, region, role)
    resources = [arn]
    if indexes:
        resources.append(cdk.Fn.join("", [arn, "/index/*"]))
    if streams:
        resources.append(cdk.Fn.join("", [arn, "/stream/*"]))
    return resources


def dynamodb(cfg: DeployConfig, region: str, role: str, actions: Iterable[str], *,
             streams: bool = False, sid: str | None = None) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        sid=sid, actions=sorted(set(actions)),
        resources=table_resources(cfg, region, role, indexes=not streams, streams=streams))


def queues(queue_list: Sequence[sqs.IQueue], actions: Iterable[str]) -> iam.PolicyStatement:
    return iam.PolicyStatement(actions=sorted(set(actions)),
                               resources=[queue.queue_arn for queue in queue_list])


def key(data_key: kms.IKey, actions: Iterable[str]) -> iam.PolicyStatement:
    return iam.PolicyStatement(actions=sorted(set(actions)), resources=[data_key.key_arn])


def put_slo_metrics(namespace: str) -> iam.PolicyStatement:
    """PutMetricData has no resource type; the namespace condition is what scopes it."""
    return iam.PolicyStatement(actions=["cloudwatch:PutMetricData"], resources=["*"],
                               conditions={"StringEquals": {"cloudwatch:namespace": namespace}})
