"""In the leader region, once: the global tables (replicas in every region) and the Cognito user
pool every region trusts. Deployed after every region's KeysStack (replicas are encrypted with
their region's key) and before the RegionStacks (whose services use both).

Regions other than the leader learn the pool from SSM parameters in the leader region: ECS reads
a task's secrets from another region's Parameter Store when given the parameter's full ARN, so no
cross-region stack reference (and no custom resource) is needed.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from deploy.config import DeployConfig
from deploy.nag import acknowledge
from deploy.stacks.tables import global_table
from tulip import schema

COGNITO_GROUPS = ("traders", "ops")  # the groups tulip/auth.py knows (devstack/provision.py)
COGNITO_PARAMETERS = ("user-pool-id", "app-client-id", "jwks-url", "issuer")


class GlobalStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, cfg: DeployConfig,
                 **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        leader_key = kms.Alias.from_alias_name(self, "LeaderDataKey", cfg.data_key_alias)
        self.tables: dict[str, dynamodb.TableV2] = {
            spec.role: global_table(self, cfg, spec, leader_key) for spec in schema.TABLES}

        self.user_pool = cognito.UserPool(
            self, "UserPool",
            user_pool_name=f"{cfg.stack_name('Users')}",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(username=True),
            password_policy=cognito.PasswordPolicy(
                min_length=12, require_digits=True, require_lowercase=True,
                require_uppercase=True, require_symbols=True),
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            account_recovery=cognito.AccountRecovery.NONE,
            deletion_protection=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        acknowledge(self.user_pool, "AwsSolutions-COG2",
                    "MFA is offered (TOTP) but not required: the simulator's traders and its load "
                    "tests sign in with a password (realtime/services.py, USER_PASSWORD_AUTH).")
        acknowledge(self.user_pool, "AwsSolutions-COG8",
                    "The Plus feature plan (threat protection) is billed per monthly active user; "
                    "a simulator holding no real money does not need it (docs/deploy.md, costs).")
        for group in COGNITO_GROUPS:
            cognito.CfnUserPoolGroup(self, f"Group{group.capitalize()}",
                                     user_pool_id=self.user_pool.user_pool_id, group_name=group)
        self.app_client = self.user_pool.add_client(
            "WebClient",
            user_pool_client_name=f"{cfg.stack_name('Web')}",
            generate_secret=False,
            # The trading page's sign-in form (realtime/services.py: USER_PASSWORD_AUTH).
            auth_flows=cognito.AuthFlow(user_password=True, admin_user_password=True),
            access_token_validity=cdk.Duration.hours(1),
            id_token_validity=cdk.Duration.hours(1),
            refresh_token_validity=cdk.Duration.days(1),
            prevent_user_existence_errors=True,
        )
        pool_id = self.user_pool.user_pool_id
        issuer = cdk.Fn.join("", [f"https://cognito-idp.{self.region}.", cdk.Aws.URL_SUFFIX,
                                  "/", pool_id])
        values = {"user-pool-id": pool_id, "app-client-id": self.app_client.user_pool_client_id,
                  "jwks-url": cdk.Fn.join("", [issuer, "/.well-known/jwks.json"]),
                  "issuer": issuer}
        for name in COGNITO_PARAMETERS:
            ssm.StringParameter(self, f"Cognito{name.title().replace('-', '')}",
                                parameter_name=f"{cfg.cognito_parameter_prefix}/{name}",
                                string_value=values[name])
        cdk.CfnOutput(self, "UserPoolId", value=pool_id)
        cdk.CfnOutput(self, "AppClientId", value=self.app_client.user_pool_client_id)
