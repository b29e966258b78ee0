"""Per region, first: the customer-managed KMS key that encrypts that region's table replicas,
queues, bucket, cache, database and secrets. It comes before the global tables (whose replicas
name it by alias) and the region's services (which use it directly)."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from deploy.config import DeployConfig

# The account may administer and use the key through IAM (key policies name the key as "*").
# Listed one by one instead of kms:*, so no policy in the app grants a wildcard KMS action.
KEY_ACCOUNT_ACTIONS = (
    "kms:DescribeKey", "kms:GetKeyPolicy", "kms:PutKeyPolicy", "kms:GetKeyRotationStatus",
    "kms:EnableKeyRotation", "kms:DisableKeyRotation", "kms:RotateKeyOnDemand",
    "kms:ListKeyRotations", "kms:ListResourceTags", "kms:TagResource", "kms:UntagResource",
    "kms:EnableKey", "kms:DisableKey", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
    "kms:UpdateKeyDescription", "kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias",
    "kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant", "kms:RetireGrant",
    "kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo",
    "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext",
)
# What CloudWatch Logs needs to encrypt the stack's log groups with the key.
LOGS_ACTIONS = ("kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo",
                "kms:GenerateDataKey", "kms:DescribeKey")


class KeysStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, cfg: DeployConfig,
                 **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        region = self.region
        policy = iam.PolicyDocument(statements=[
            iam.PolicyStatement(
                sid="AccountAdministersAndUsesTheKeyThroughIam",
                principals=[iam.AccountRootPrincipal()],
                actions=list(KEY_ACCOUNT_ACTIONS),
                resources=["*"]),
            iam.PolicyStatement(
                sid="CloudWatchLogsEncryptsThisAccountsLogGroups",
                principals=[iam.ServicePrincipal(f"logs.{region}.amazonaws.com")],
                actions=list(LOGS_ACTIONS),
                resources=["*"],
                conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": cdk.Fn.join("", [
                    "arn:", cdk.Aws.PARTITION, f":logs:{region}:", cdk.Aws.ACCOUNT_ID, ":*"])}}),
        ])
        self.key = kms.Key(
            self, "DataKey",
            description=f"TulipBroker data in {region}: tables, queues, bucket, cache, database",
            enable_key_rotation=True,
            policy=policy,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.alias = kms.Alias(self, "DataKeyAlias", alias_name=cfg.data_key_alias,
                               target_key=self.key)
        cdk.CfnOutput(self, "DataKeyArn", value=self.key.key_arn)
