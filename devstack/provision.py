"""Creates TulipBroker's AWS resources in the local moto server.

- DynamoDB: every table of the schema of record (tulip.schema.TABLES: keys, indexes, streams,
  TTL), exactly as the deploy stack creates them from the same definitions.
- SQS: one events FIFO queue per symbol, sharing a FIFO dead-letter queue (redrive after 10
  receives), and standard queues for Celery tasks and the matcher workers' control.
- KMS: each region's customer-managed key (alias/tulip-data), which encrypts that region's tables
  (SSE-KMS) and queues (KmsMasterKeyId), as the deploy stack's do (docs/deploy.md).
- Cognito: a user pool, an app client, groups `traders` and `ops`, demo users.
- S3: a bucket for load-test reports.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

import boto3

from tulip import aws, schema

# The dead-letter queue is for poison (a body no consumer can decode: the matcher releases it at
# once, so its receives cost milliseconds). A good message is received again only when its batch
# failed: a matcher crash, a lost lease, a throttled commit. Five such in a row happened in the
# simulation (seed 3653: two crashes before the commit, one after, a lease pause), and
# dead-lettered a message whose order was already decided; ten leaves such runs improbable.
# deploy/config.py (dlq_max_receives) sets the same count for the deployed queues.
DLQ_MAX_RECEIVE_COUNT = 10
# Far above the matcher's batch time (tens of ms), so a healthy holder never sees its in-flight
# batch redelivered; and equal to the default lease TTL (MATCHER_LEASE_TTL_S), so the batch a
# killed holder had in flight is back in the queue about when its lease has run out and does not
# hold the takeover up (FIFO hands out nothing more of a group while a batch of it is in flight).
EVENTS_VISIBILITY_TIMEOUT_S = 5
DATA_KEY_ALIAS = "alias/tulip-data"  # the deploy stack's alias (deploy/config.py, data_key_alias)
DEMO_PASSWORD = "Tulip-demo-2026!"  # local stand-in only; printed by `make run`
DEMO_USERS = {"alice": ("traders",), "bob": ("traders",), "ops": ("ops",)}
GROUPS = ("traders", "ops")
# The AWS services the local stand-in serves (devstack.warm_up warms each of them).
AwsService = Literal["dynamodb", "dynamodbstreams", "sqs", "cognito-idp", "s3", "cloudwatch"]


@dataclass(frozen=True, slots=True)
class Names:
    orders_table: str = "tulip-orders"
    trades_table: str = "tulip-trades"
    events_queue: str = "tulip-events-{symbol}.fifo"  # one FIFO queue per symbol (shard)
    events_dlq: str = "tulip-events-dlq.fifo"
    tasks_queue: str = "tulip-tasks"
    matching_control_queue: str = "matching-control"
    user_pool: str = "tulip-local"
    app_client: str = "tulip-web"
    reports_bucket: str = "tulip-reports"


@dataclass(frozen=True, slots=True)
class Provisioned:
    events_fifo_url: str
    events_dlq_url: str
    tasks_queue_url: str
    matching_control_queue_url: str
    user_pool_id: str
    app_client_id: str


def data_key(client: Any) -> str:
    """The ARN of the region's data key (DATA_KEY_ALIAS) in the stand-in that serves `client`,
    created on first use: the same KMS service, endpoint and region as the client's."""
    kms: Any = boto3.session.Session().client(
        "kms", endpoint_url=client.meta.endpoint_url, region_name=client.meta.region_name,
        aws_access_key_id=aws.LOCAL_CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=aws.LOCAL_CREDENTIALS["aws_secret_access_key"])
    try:
        arn: str = kms.describe_key(KeyId=DATA_KEY_ALIAS)["KeyMetadata"]["Arn"]
    except kms.exceptions.NotFoundException:
        arn = kms.create_key(Description="TulipBroker data (local stand-in)")["KeyMetadata"]["Arn"]
        kms.create_alias(AliasName=DATA_KEY_ALIAS, TargetKeyId=arn)
    return arn


def create_tables(ddb: Any, names: Names) -> None:
    """Every table of the schema of record (tulip.schema.TABLES), with its TTL."""
    key = data_key(ddb)
    for spec in schema.TABLES:
        name = names.orders_table if spec.role == "orders" else names.trades_table
        ddb.create_table(**schema.create_table_request(spec, name), SSESpecification={
            "Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key})
        if spec.ttl_attribute:
            ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={
                "Enabled": True, "AttributeName": spec.ttl_attribute})


@dataclass(frozen=True, slots=True)
class Queues:
    """One region's queues; the events queue URL is the `{symbol}` template."""

    events_fifo_url: str
    events_dlq_url: str
    tasks_queue_url: str
    matching_control_queue_url: str


def create_queues(sqs: Any, names: Names, symbols: tuple[str, ...],
                  visibility_timeout_s: int = EVENTS_VISIBILITY_TIMEOUT_S) -> Queues:
    """The events queue of every symbol (sharing one dead-letter queue), the tasks queue and the
    matcher workers' control queue, in the client's region."""
    encrypted = {"KmsMasterKeyId": data_key(sqs), "KmsDataKeyReusePeriodSeconds": "300"}
    dlq_url = sqs.create_queue(
        QueueName=names.events_dlq,
        Attributes={"FifoQueue": "true", "MessageRetentionPeriod": "1209600", **encrypted},
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    events_url = ""
    for symbol in symbols:
        name = names.events_queue.replace("{symbol}", symbol)
        url = sqs.create_queue(
            QueueName=name,
            Attributes={
                "FifoQueue": "true",
                "ContentBasedDeduplication": "false",  # the producer sets the IK as dedupe id
                "VisibilityTimeout": str(visibility_timeout_s),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": DLQ_MAX_RECEIVE_COUNT}),
                **encrypted,
            },
        )["QueueUrl"]
        events_url = url.removesuffix(name) + names.events_queue
    tasks_url = sqs.create_queue(QueueName=names.tasks_queue,
                                 Attributes={"VisibilityTimeout": "60", **encrypted})["QueueUrl"]
    control_url = sqs.create_queue(QueueName=names.matching_control_queue,
                                   Attributes={"VisibilityTimeout": "60", **encrypted})["QueueUrl"]
    return Queues(events_url, dlq_url, tasks_url, control_url)


def create_user_pool(cognito: Any, names: Names) -> tuple[str, str]:
    pool_id = cognito.create_user_pool(
        PoolName=names.user_pool,
        Policies={"PasswordPolicy": {"MinimumLength": 8}},
    )["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName=names.app_client,
        GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_USER_PASSWORD_AUTH",
                           "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    for group in GROUPS:
        cognito.create_group(UserPoolId=pool_id, GroupName=group)
    for username, groups in DEMO_USERS.items():
        ensure_user(cognito, pool_id, username, groups)
    return pool_id, client_id


def ensure_user(cognito: Any, pool_id: str, username: str, groups: tuple[str, ...],
                password: str = DEMO_PASSWORD) -> None:
    """Create the user with a permanent password if missing; add it to the groups."""
    try:
        cognito.admin_get_user(UserPoolId=pool_id, Username=username)
    except cognito.exceptions.UserNotFoundException:
        cognito.admin_create_user(UserPoolId=pool_id, Username=username,
                                  MessageAction="SUPPRESS")
        cognito.admin_set_user_password(UserPoolId=pool_id, Username=username,
                                        Password=password, Permanent=True)
    for group in groups:
        cognito.admin_add_user_to_group(UserPoolId=pool_id, Username=username, GroupName=group)


def access_token(cognito: Any, pool_id: str, client_id: str, username: str,
                 password: str = DEMO_PASSWORD) -> str:
    result = cognito.admin_initiate_auth(
        UserPoolId=pool_id, ClientId=client_id, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )
    token: str = result["AuthenticationResult"]["AccessToken"]
    return token


def put_leader(ddb: Any, names: Names, region: str) -> None:
    """The leadership record every region starts with: `region` leads under term 1."""
    ddb.put_item(TableName=names.trades_table, Item={
        **schema.raw_key(schema.LeaderItem.key()), "leaderRegion": {"S": region},
        "term": {"N": "1"}, "since": {"S": "start"}, "reason": {"S": "configuration"}},
        ConditionExpression="attribute_not_exists(pk)")
