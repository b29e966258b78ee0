"""The pipeline gate (docs/rules.md, service levels; docs/deploy.md, "Run the gate"): a Step
Functions state machine that runs the smoke load as an ECS task, then the assertion Lambda (the
same checks as `manage.py gate`: deploy/lambdas/gate_handler.py -> ops.gate.evaluate), and fails
unless the Lambda answers {"pass": true}.

The smoke load is the load package's `smoke` profile (`make load PROFILE=smoke`, Locust), run
from the image's `load` target as `python -m bench.load --profile smoke --host <this region's URL>`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from deploy.config import DeployConfig
from deploy.lambdas.gate_handler import ENV_FROM, GATE_WINDOW_S
from deploy.nag import acknowledge, acknowledge_wildcards
from deploy.stacks import grants

REPO_ROOT = Path(__file__).resolve().parents[2]
SMOKE_TIMEOUT = cdk.Duration.minutes(30)
LOAD_REPORTS_PREFIX = "load-reports/"


class Gate(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, cfg: DeployConfig, region: str,
                 key: kms.IKey, cluster: ecs.ICluster, vpc: ec2.IVpc,
                 security_group: ec2.ISecurityGroup,
                 images: Mapping[str, ecr_assets.DockerImageAsset],
                 environment: Mapping[str, str], secrets: Mapping[str, ecs.Secret],
                 execution_role: iam.IRole, reports_bucket: s3.IBucket, api_url: str) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.function = self._assertion_lambda(cfg, region, key, environment)
        self.load_task, load_container = self._load_task(
            cfg, key, images["load"], environment, secrets, execution_role, reports_bucket,
            api_url)

        smoke = tasks.EcsRunTask(
            self, "RunSmokeLoad", cluster=cluster, task_definition=self.load_task,
            integration_pattern=sfn.IntegrationPattern.RUN_JOB,
            launch_target=tasks.EcsFargateLaunchTarget(
                platform_version=ecs.FargatePlatformVersion.LATEST),
            container_overrides=[tasks.ContainerOverride(
                container_definition=load_container,
                command=["python", "-m", "bench.load", "--profile", "smoke", "--host",
                         api_url])],
            subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            security_groups=[security_group], assign_public_ip=False,
            task_timeout=sfn.Timeout.duration(SMOKE_TIMEOUT),
            result_path=sfn.JsonPath.DISCARD)
        assertion = tasks.LambdaInvoke(
            self, "AssertGate", lambda_function=self.function,
            payload=sfn.TaskInput.from_object({"windowS": GATE_WINDOW_S}),
            payload_response_only=True, result_path="$.gate", retry_on_service_exceptions=True)
        smoke_failed = sfn.Fail(self, "SmokeLoadFailed", error="SmokeLoadFailed",
                                cause="The smoke load task failed or timed out")
        gate_failed = sfn.Fail(self, "GateFailed", error="GateFailed",
                               cause="The assertion Lambda did not answer {\"pass\": true}; its "
                                     "reasons are in the AssertGate step's output")
        verdict = (sfn.Choice(self, "Passed?")
                   .when(sfn.Condition.boolean_equals("$.gate.pass", True),
                         sfn.Succeed(self, "GatePassed"))
                   .otherwise(gate_failed))
        definition = smoke.add_catch(smoke_failed, result_path="$.error").next(
            assertion.add_catch(gate_failed, result_path="$.error")).next(verdict)
        log_group = logs.LogGroup(self, "StateMachineLogs", retention=logs.RetentionDays.ONE_MONTH,
                                  encryption_key=key, removal_policy=cdk.RemovalPolicy.DESTROY)
        self.state_machine = sfn.StateMachine(
            self, "StateMachine", state_machine_name=f"tulip-gate-{region}",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            timeout=cdk.Duration.hours(1), tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL,
                                include_execution_data=True))
        acknowledge_wildcards(
            self.state_machine,
            "Step Functions' own grants: ecs:StopTask/DescribeTasks for the .sync integration, "
            "CloudWatch Logs delivery and X-Ray have no resource type; ecs:RunTask names the "
            "load task definition's family with any revision and the Lambda ARN's ':*' its "
            "versions. No data-plane action is granted.",
            allow=["Resource::*", "Resource::<Gate*.Arn>:*",
                   'Resource::arn:{"Fn::Select":*GateLoadTask*:*'])
        cdk.CfnOutput(stack, "GateStateMachineArn", value=self.state_machine.state_machine_arn)

    def _assertion_lambda(self, cfg: DeployConfig, region: str, key: kms.IKey,
                          environment: Mapping[str, str]) -> lambda_.DockerImageFunction:
        stack = cdk.Stack.of(self)
        log_group = logs.LogGroup(self, "GateLambdaLogs", retention=logs.RetentionDays.ONE_MONTH,
                                  encryption_key=key, removal_policy=cdk.RemovalPolicy.DESTROY)
        role = iam.Role(self, "GateLambdaRole",
                        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                        description="The pipeline gate's assertion: reads the ledger and metrics")
        role.add_to_policy(grants.dynamodb(cfg, region, "orders",
                                           (*grants.DDB_READ, *grants.DDB_SCAN)))
        role.add_to_policy(grants.dynamodb(cfg, region, "trades", grants.DDB_READ))
        role.add_to_policy(iam.PolicyStatement(actions=["cloudwatch:GetMetricData"],
                                               resources=["*"]))
        role.add_to_policy(iam.PolicyStatement(
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[log_group.log_group_arn, cdk.Fn.join("", [log_group.log_group_arn, ":*"])]))
        # What the production configuration requires but a Lambda cannot be handed as an ECS
        # secret: resolved by the handler at cold start (deploy/lambdas/gate_handler.py).
        leader = cfg.leader_region
        prefix = cfg.cognito_parameter_prefix
        parameters = {
            variable: cdk.Fn.join("", ["arn:", cdk.Aws.PARTITION, f":ssm:{leader}:",
                                       cdk.Aws.ACCOUNT_ID, f":parameter{prefix}/{name}"])
            for variable, name in (("COGNITO_USER_POOL_ID", "user-pool-id"),
                                   ("COGNITO_APP_CLIENT_ID", "app-client-id"))}
        django_secret = stack.node.find_child("DjangoSecretKey")
        assert isinstance(django_secret, cdk.aws_secretsmanager.Secret)
        role.add_to_policy(iam.PolicyStatement(actions=["ssm:GetParameter"],
                                               resources=list(parameters.values())))
        role.add_to_policy(iam.PolicyStatement(actions=["secretsmanager:GetSecretValue"],
                                               resources=[django_secret.secret_arn]))
        role.add_to_policy(grants.key(key, grants.KMS_CONSUME))
        acknowledge_wildcards(
            role, "cloudwatch:GetMetricData has no resource type; the table ARNs' /index/* are "
                  "the table's own indexes; ':*' is the function's own log streams.",
            allow=["Resource::*", grants.NAG_TABLE_INDEXES, "Resource::<Gate*Logs*.Arn>:*"])
        env_from = {**{variable: f"ssm:{arn}" for variable, arn in parameters.items()},
                    "DJANGO_SECRET_KEY": f"secretsmanager:{django_secret.secret_arn}"}
        function_env = {name: value for name, value in environment.items()
                        if name not in ("REDIS_HOST", "REDIS_PORT", "DB_HOST", "DB_PORT",
                                        "DB_NAME", "PROMETHEUS_MULTIPROC_DIR", "AWS_REGION")}
        function_env["REDIS_URL"] = cdk.Fn.join("", [
            "rediss://", environment["REDIS_HOST"], ":", environment["REDIS_PORT"], "/0"])
        function_env["TULIP_STATE_DIR"] = "/tmp/tulip"
        function_env["TULIP_TRACING"] = "off"
        function_env[ENV_FROM] = stack.to_json_string(env_from)
        return lambda_.DockerImageFunction(
            self, "GateLambda",
            # The image's `gate` target: the repository's packages and the Lambda runtime client.
            code=lambda_.DockerImageCode.from_image_asset(
                str(REPO_ROOT), file="Dockerfile", target="gate",
                platform=ecr_assets.Platform.LINUX_AMD64),
            role=role, log_group=log_group, environment=function_env,
            timeout=cdk.Duration.minutes(5), memory_size=1024,
            architecture=lambda_.Architecture.X86_64, tracing=lambda_.Tracing.ACTIVE,
            description="TulipBroker pipeline gate: {\"pass\": true} or the reasons why not")

    def _load_task(self, cfg: DeployConfig, key: kms.IKey, image: ecr_assets.DockerImageAsset,
                   environment: Mapping[str, str], secrets: Mapping[str, ecs.Secret],
                   execution_role: iam.IRole, bucket: s3.IBucket,
                   api_url: str) -> tuple[ecs.FargateTaskDefinition, ecs.ContainerDefinition]:
        role = iam.Role(self, "LoadTaskRole",
                        assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
                        description="The smoke load: signs its users in, writes its report")
        role.add_to_policy(iam.PolicyStatement(
            actions=["s3:PutObject"], resources=[bucket.arn_for_objects(f"{LOAD_REPORTS_PREFIX}*")]))
        role.add_to_policy(grants.key(key, grants.KMS_PRODUCE))
        pool_arns = cdk.Fn.join("", ["arn:", cdk.Aws.PARTITION,
                                     f":cognito-idp:{cfg.leader_region}:", cdk.Aws.ACCOUNT_ID,
                                     ":userpool/*"])
        role.add_to_policy(iam.PolicyStatement(
            actions=["cognito-idp:AdminCreateUser", "cognito-idp:AdminSetUserPassword",
                     "cognito-idp:AdminAddUserToGroup", "cognito-idp:AdminGetUser",
                     "cognito-idp:AdminInitiateAuth"],
            resources=[pool_arns]))
        acknowledge_wildcards(
            role, "The report prefix load-reports/* in the region's bucket; the user pool's id "
                  "is generated in the leader region, so its ARN ends in userpool/*.",
            allow=["Resource::<Reports*.Arn>/load-reports/*",
                   "Resource::arn:<AWS::Partition>:cognito-idp:*:<AWS::AccountId>:userpool/*"])
        task = ecs.FargateTaskDefinition(
            self, "LoadTask", cpu=1024, memory_limit_mib=2048, family="tulip-load-smoke",
            task_role=role, execution_role=execution_role)
        container = task.add_container(
            "load", image=ecs.ContainerImage.from_docker_image_asset(image),
            environment={**environment, "LOAD_TARGET_URL": api_url,
                         "LOAD_REPORTS_BUCKET": bucket.bucket_name,
                         "LOAD_REPORTS_PREFIX": LOAD_REPORTS_PREFIX},
            secrets=dict(secrets),
            logging=ecs.LogDrivers.aws_logs(stream_prefix="load", log_group=logs.LogGroup(
                self, "LoadLogs", retention=logs.RetentionDays.ONE_MONTH, encryption_key=key,
                removal_policy=cdk.RemovalPolicy.DESTROY)))
        acknowledge(task, "AwsSolutions-ECS2",
                    "Plain environment variables carry names and URLs only; secrets are ECS "
                    "secrets.")
        return task, container

