"""One region's TulipBroker: network, queues, bucket, cache, database, the four services of the
README's "Pointing it at real AWS" (ASGI behind an ALB, matcher, Celery worker, projector), the
region's Route 53 failover record, SLO alarms and dashboard, FIS experiments and the pipeline
gate. Deployed after the region's KeysStack and the GlobalStack (docs/deploy.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticache as elasticache
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as route53_targets
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from deploy.config import SLO_NAMESPACE, DeployConfig
from deploy.nag import acknowledge, acknowledge_wildcards
from deploy.stacks import chaos, grants, observability, pipeline
from deploy.stacks.global_stack import COGNITO_PARAMETERS

REPO_ROOT = Path(__file__).resolve().parents[2]
APP_PORT = 8000
REDIS_PORT = 6380  # not the default port (AwsSolutions-AEC5)
DB_PORT = 5433  # not the default port (AwsSolutions-RDS11)
DB_NAME = "tulip"
METRICS_DIR = "/tmp/tulip-metrics"  # PROMETHEUS_MULTIPROC_DIR, shared by a task's containers
# Pinned sidecar images (bump deliberately; never :latest).
ADOT_COLLECTOR_IMAGE = "public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0"
SSM_AGENT_IMAGE = "public.ecr.aws/amazon-ssm-agent/amazon-ssm-agent:3.3.987.0"
FIS_SIDECAR_SCRIPT = Path(__file__).with_name("fis_ssm_sidecar.sh")


class RegionStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, cfg: DeployConfig,
                 data_key: kms.IKey, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.cfg = cfg
        # Imported by ARN: grants then go to the principals' policies, never into the key's
        # policy in the KeysStack (which would make that stack depend on this one).
        self.key = kms.Key.from_key_arn(self, "DataKey", data_key.key_arn)
        region = self.region
        self.is_leader = region == cfg.leader_region

        self._network()
        self._queues()
        self._bucket()
        self._secrets()
        self._cache()
        self._database()
        self._cluster()
        self._services()
        self._dns()
        self.observability = observability.Observability(
            self, "Observability", cfg=cfg, key=self.key, region=region,
            services=self.services, queues=self.events_queues, load_balancer=self.alb)
        self.chaos = chaos.Experiments(
            self, "Chaos", cfg=cfg, region=region, cluster=self.cluster, services=self.services,
            cache=self.cache, subnets=self.vpc.private_subnets,
            stop_alarms=self.observability.stop_condition_alarms)
        self.gate = pipeline.Gate(
            self, "Gate", cfg=cfg, region=region, key=self.key, cluster=self.cluster,
            vpc=self.vpc, security_group=self.task_sg, images=self.images,
            environment=self.environment_vars, secrets=self.secrets,
            execution_role=self.execution_role, reports_bucket=self.reports,
            api_url=f"https://{self.regional_domain}")

    # ------------------------------------------------------------------------------ network
    def _network(self) -> None:
        sizes = self.cfg.sizes
        self.vpc = ec2.Vpc(
            self, "Vpc", max_azs=sizes.max_azs, nat_gateways=sizes.nat_gateways,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC,
                                        cidr_mask=24),
                ec2.SubnetConfiguration(name="private",
                                        subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS,
                                        cidr_mask=20),
            ],
            gateway_endpoints={
                "DynamoDb": ec2.GatewayVpcEndpointOptions(
                    service=ec2.GatewayVpcEndpointAwsService.DYNAMODB),
                "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3),
            },
        )
        flow_logs = self._log_group("FlowLogs")
        self.vpc.add_flow_log("FlowLog",
                              destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs))
        self.task_sg = ec2.SecurityGroup(self, "TaskSg", vpc=self.vpc,
                                         description="TulipBroker tasks", allow_all_outbound=True)
        self.alb_sg = ec2.SecurityGroup(self, "AlbSg", vpc=self.vpc,
                                        description="TulipBroker public load balancer",
                                        allow_all_outbound=False)
        for port in (80, 443):
            self.alb_sg.add_ingress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(port),
                                         f"the public API on {port}")
        self.alb_sg.add_egress_rule(self.task_sg, ec2.Port.tcp(APP_PORT), "to the ASGI tasks")
        self.task_sg.add_ingress_rule(self.alb_sg, ec2.Port.tcp(APP_PORT), "from the ALB")
        acknowledge(self.alb_sg, "AwsSolutions-EC23",
                    "The public API's load balancer accepts HTTPS (and HTTP, redirected) from "
                    "anyone; authentication is the Cognito bearer token (docs/api.md).")

    def _log_group(self, name: str) -> logs.LogGroup:
        return logs.LogGroup(self, f"{name}Logs", retention=logs.RetentionDays.ONE_MONTH,
                             encryption_key=self.key, removal_policy=cdk.RemovalPolicy.DESTROY)

    # ------------------------------------------------------------------------------ queues
    def _queues(self) -> None:
        cfg = self.cfg
        encryption: dict[str, Any] = {
            "encryption": sqs.QueueEncryption.KMS, "encryption_master_key": self.key,
            "data_key_reuse": cdk.Duration.minutes(5), "enforce_ssl": True}
        self.events_dlq = sqs.Queue(
            self, "EventsDlq", queue_name=cfg.events_dlq, fifo=True,
            retention_period=cdk.Duration.days(14), **encryption)
        self.events_queues: dict[str, sqs.Queue] = {}
        for symbol in cfg.symbols:
            self.events_queues[symbol] = sqs.Queue(
                self, f"Events{symbol}", queue_name=cfg.events_queue(symbol), fifo=True,
                # The producer sets the idempotency key as the dedupe id (tulip/events_queue.py).
                content_based_deduplication=False,
                # = the default lease TTL: a killed holder's in-flight batch is back when its
                # lease has run out (docs/architecture.md, "Shard leases").
                visibility_timeout=cdk.Duration.seconds(cfg.lease_ttl_s),
                retention_period=cdk.Duration.days(4),
                dead_letter_queue=sqs.DeadLetterQueue(queue=self.events_dlq,
                                                      max_receive_count=cfg.dlq_max_receives),
                **encryption)
        self.tasks_dlq = sqs.Queue(self, "TasksDlq", queue_name=f"{cfg.tasks_queue}-dlq",
                                   retention_period=cdk.Duration.days(14), **encryption)
        celery_dlq = sqs.DeadLetterQueue(queue=self.tasks_dlq, max_receive_count=10)
        self.tasks_queue = sqs.Queue(self, "TasksQueue", queue_name=cfg.tasks_queue,
                                     visibility_timeout=cdk.Duration.seconds(60),
                                     dead_letter_queue=celery_dlq, **encryption)
        self.control_queue = sqs.Queue(self, "MatchingControlQueue",
                                       queue_name=cfg.matching_control_queue,
                                       visibility_timeout=cdk.Duration.seconds(60),
                                       dead_letter_queue=celery_dlq, **encryption)
        self.events_fifo_url = cdk.Fn.join("", [
            "https://sqs.", self.region, ".", cdk.Aws.URL_SUFFIX, "/", cdk.Aws.ACCOUNT_ID, "/",
            cfg.events_queue_template])

    # ------------------------------------------------------------------------------ bucket
    def _bucket(self) -> None:
        self.reports = s3.Bucket(
            self, "Reports",
            encryption=s3.BucketEncryption.KMS, encryption_key=self.key, bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL, enforce_ssl=True,
            versioned=True, object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(expiration=cdk.Duration.days(90),
                                              noncurrent_version_expiration=cdk.Duration.days(7))],
            removal_policy=cdk.RemovalPolicy.RETAIN)
        acknowledge(self.reports, "AwsSolutions-S1",
                    "Server access logs can only be delivered to an SSE-S3 bucket, and every bucket "
                    "of this app is encrypted with the region's customer-managed key; the bucket "
                    "holds load-test reports only, and its API calls are in CloudTrail.")

    # ------------------------------------------------------------------------------ secrets
    def _secrets(self) -> None:
        self.django_secret = secretsmanager.Secret(
            self, "DjangoSecretKey", encryption_key=self.key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True))
        self.redis_token = secretsmanager.Secret(
            self, "RedisAuthToken", encryption_key=self.key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True))
        for secret in (self.django_secret, self.redis_token):
            acknowledge(secret, "AwsSolutions-SMG4",
                        "ECS hands secrets to a task when it starts; rotating this one under "
                        "running tasks would break them. Rotate with a deploy that replaces the "
                        "tasks (docs/deploy.md, \"Secrets\").")

    # ------------------------------------------------------------------------------ cache
    def _cache(self) -> None:
        subnets = elasticache.CfnSubnetGroup(
            self, "CacheSubnets", description="TulipBroker cache",
            subnet_ids=[subnet.subnet_id for subnet in self.vpc.private_subnets])
        self.cache_sg = ec2.SecurityGroup(self, "CacheSg", vpc=self.vpc,
                                          description="TulipBroker cache",
                                          allow_all_outbound=False)
        self.cache_sg.add_ingress_rule(self.task_sg, ec2.Port.tcp(REDIS_PORT), "from tasks")
        self.cache = elasticache.CfnReplicationGroup(
            self, "Cache",
            replication_group_description="TulipBroker book snapshots, channel layer, results",
            engine="valkey", engine_version="8.0",
            cache_node_type=self.cfg.sizes.cache_node_type,
            num_cache_clusters=2, automatic_failover_enabled=True, multi_az_enabled=True,
            port=REDIS_PORT, cache_subnet_group_name=subnets.ref,
            security_group_ids=[self.cache_sg.security_group_id],
            at_rest_encryption_enabled=True, kms_key_id=self.key.key_arn,
            transit_encryption_enabled=True, transit_encryption_mode="required",
            auth_token=self.redis_token.secret_value.unsafe_unwrap(),
            snapshot_retention_limit=1)

    # ------------------------------------------------------------------------------ database
    def _database(self) -> None:
        self.db_sg = ec2.SecurityGroup(self, "DbSg", vpc=self.vpc,
                                       description="TulipBroker ops database",
                                       allow_all_outbound=False)
        self.db_sg.add_ingress_rule(self.task_sg, ec2.Port.tcp(DB_PORT), "from tasks")
        self.database = rds.DatabaseInstance(
            self, "OpsDb",
            engine=rds.DatabaseInstanceEngine.postgres(version=rds.PostgresEngineVersion.VER_17_6),
            instance_type=ec2.InstanceType(self.cfg.sizes.db_instance_class),
            vpc=self.vpc, vpc_subnets=ec2.SubnetSelection(
                subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            security_groups=[self.db_sg], port=DB_PORT, database_name=DB_NAME,
            credentials=rds.Credentials.from_generated_secret("tulip", encryption_key=self.key),
            multi_az=True, storage_encrypted=True, storage_encryption_key=self.key,
            allocated_storage=self.cfg.sizes.db_allocated_gib,
            backup_retention=cdk.Duration.days(7), deletion_protection=True,
            removal_policy=cdk.RemovalPolicy.SNAPSHOT,
            cloudwatch_logs_exports=["postgresql"], auto_minor_version_upgrade=True)
        assert self.database.secret is not None
        acknowledge(self.database.node.find_child("Secret"), "AwsSolutions-SMG4",
                    "ECS hands the database password to a task when it starts; rotation under "
                    "running tasks would break their connections. Rotate with a deploy that "
                    "replaces the tasks (docs/deploy.md, \"Secrets\").")
        acknowledge(self.database, "AwsSolutions-RDS6",
                    "The ops database is Django's (admin users, the stream projection); Django "
                    "connects with the password from Secrets Manager, not IAM tokens.")

    # ------------------------------------------------------------------------------ compute
    def _cluster(self) -> None:
        self.cluster = ecs.Cluster(self, "Cluster", vpc=self.vpc,
                                   container_insights_v2=ecs.ContainerInsights.ENABLED)
        self.images = {
            target: ecr_assets.DockerImageAsset(
                self, f"Image{target.capitalize()}", directory=str(REPO_ROOT), file="Dockerfile",
                target=target, platform=ecr_assets.Platform.LINUX_AMD64)
            for target in ("service", "load")}
        self.execution_role = iam.Role(
            self, "ExecutionRole", assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description="Pulls the image, writes logs, reads the tasks' secrets")
        self.execution_role.add_to_policy(grants.key(self.key, grants.KMS_CONSUME))
        acknowledge_wildcards(
            self.execution_role, "ecr:GetAuthorizationToken, which ECS needs to pull the image, "
                                 "has no resource type.", allow=["Resource::*"])
        leader = self.cfg.leader_region
        prefix = self.cfg.cognito_parameter_prefix
        cognito = {
            name: _ParameterSecret(cdk.Fn.join("", [
                "arn:", cdk.Aws.PARTITION, f":ssm:{leader}:", cdk.Aws.ACCOUNT_ID,
                f":parameter{prefix}/{name}"]))
            for name in COGNITO_PARAMETERS}
        assert self.database.secret is not None
        self.secrets: dict[str, ecs.Secret] = {
            "DJANGO_SECRET_KEY": ecs.Secret.from_secrets_manager(self.django_secret),
            "REDIS_AUTH_TOKEN": ecs.Secret.from_secrets_manager(self.redis_token),
            "DB_USER": ecs.Secret.from_secrets_manager(self.database.secret, "username"),
            "DB_PASSWORD": ecs.Secret.from_secrets_manager(self.database.secret, "password"),
            "COGNITO_USER_POOL_ID": cognito["user-pool-id"],
            "COGNITO_APP_CLIENT_ID": cognito["app-client-id"],
            "COGNITO_JWKS_URL": cognito["jwks-url"],
            "COGNITO_ISSUER": cognito["issuer"],
        }
        cfg = self.cfg
        self.regional_domain = f"{cfg.api_subdomain}-{self.region}.{cfg.domain_name}"
        self.environment_vars: dict[str, str] = {
            "TULIP_ENV": "production",
            "AWS_REGION": self.region,
            "REGION_ROLE": "leader" if self.is_leader else "follower",
            "LEADER_REGION": cfg.leader_region,
            "TULIP_SYMBOLS": ",".join(cfg.symbols),
            "ORDERS_TABLE": cfg.orders_table,
            "TRADES_TABLE": cfg.trades_table,
            "EVENTS_FIFO_URL": self.events_fifo_url,
            "EVENTS_DLQ_URL": self.events_dlq.queue_url,
            "CELERY_QUEUE_URL": self.tasks_queue.queue_url,
            "MATCHING_CONTROL_QUEUE_URL": self.control_queue.queue_url,
            "MATCHER_LEASE_TTL_S": str(cfg.lease_ttl_s),
            "REDIS_HOST": self.cache.attr_primary_end_point_address,
            "REDIS_PORT": str(REDIS_PORT),
            "DB_HOST": self.database.db_instance_endpoint_address,
            "DB_PORT": str(DB_PORT),
            "DB_NAME": DB_NAME,
            "REPORTS_BUCKET": self.reports.bucket_name,
            "DJANGO_ALLOWED_HOSTS": f"{cfg.api_domain},{self.regional_domain}",
            "LOG_LEVEL": "INFO",
            "PROMETHEUS_MULTIPROC_DIR": METRICS_DIR,
            "TULIP_STATE_DIR": "/tmp/tulip",
            # The ADOT collector sidecar receives OTLP here and exports to X-Ray.
            # OTLP/HTTP (protobuf) to the ADOT sidecar's HTTP receiver (tulip/tracing.py).
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_PROPAGATORS": "xray",
        }

    def _task_role(self, name: str, statements: list[iam.PolicyStatement]) -> iam.Role:
        role = iam.Role(self, f"{name}TaskRole",
                        assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
                        description=f"TulipBroker {name}: only the data it touches")
        for statement in statements:
            role.add_to_policy(statement)
        role.add_to_policy(grants.put_slo_metrics(SLO_NAMESPACE))
        role.add_to_policy(iam.PolicyStatement(
            sid="XRayFromTheCollectorSidecar",
            actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords",
                     "xray:GetSamplingRules", "xray:GetSamplingTargets"],
            resources=["*"]))
        acknowledge_wildcards(
            role, "Resource '*' only where the service has no resource type: "
                  "cloudwatch:PutMetricData (scoped by the TulipBroker namespace condition), "
                  "X-Ray's trace and sampling APIs and, for the FIS sidecar, ssm:CreateActivation "
                  "and AddTagsToResource; table ARNs end in /index/* or /stream/* for the table's "
                  "own indexes and streams.",
            allow=["Resource::*", grants.NAG_TABLE_INDEXES, grants.NAG_TABLE_STREAMS])
        return role

    def _services(self) -> None:
        cfg, region, key = self.cfg, self.region, self.key
        events = list(self.events_queues.values())
        web = [
            grants.dynamodb(cfg, region, "orders", (*grants.DDB_READ, *grants.DDB_WRITE,
                                                    *grants.DDB_SCAN)),
            grants.dynamodb(cfg, region, "trades", (*grants.DDB_READ, *grants.DDB_WRITE)),
            grants.queues(events, grants.SQS_SEND),
            grants.queues([self.tasks_queue], grants.SQS_SEND),
            grants.key(key, grants.KMS_PRODUCE),
        ]
        worker = [
            grants.dynamodb(cfg, region, "orders", (*grants.DDB_READ, *grants.DDB_WRITE)),
            grants.dynamodb(cfg, region, "trades", grants.DDB_READ),
            grants.queues(events, grants.SQS_SEND),
            grants.queues([self.tasks_queue], (*grants.SQS_CONSUME, *grants.SQS_SEND)),
            grants.key(key, grants.KMS_PRODUCE),
        ]
        matcher = [
            grants.dynamodb(cfg, region, "orders", (*grants.DDB_READ, *grants.DDB_WRITE)),
            grants.dynamodb(cfg, region, "trades", (*grants.DDB_READ, *grants.DDB_WRITE,
                                                    *grants.DDB_DELETE)),
            grants.queues(events, grants.SQS_CONSUME),
            grants.queues([self.control_queue], (*grants.SQS_CONSUME, *grants.SQS_SEND)),
            grants.key(key, grants.KMS_PRODUCE),
        ]
        projector = [
            grants.dynamodb(cfg, region, "orders", (*grants.DDB_READ, *grants.DDB_SCAN)),
            grants.dynamodb(cfg, region, "trades", grants.DDB_READ),
            grants.dynamodb(cfg, region, "orders", grants.DDB_STREAMS, streams=True),
            grants.dynamodb(cfg, region, "trades", grants.DDB_STREAMS, streams=True),
        ]
        sizes = cfg.sizes
        self.services: dict[str, ecs.FargateService] = {}
        specs = (
            ("web", web, sizes.web_cpu, sizes.web_memory, sizes.web_count),
            ("matcher", matcher, sizes.matcher_cpu, sizes.matcher_memory, sizes.matcher_count),
            ("worker", worker, sizes.worker_cpu, sizes.worker_memory, sizes.worker_count),
            ("projector", projector, sizes.projector_cpu, sizes.projector_memory,
             sizes.projector_count),
        )
        for name, statements, cpu, memory, count in specs:
            self.services[name] = self._service(name, self._task_role(name.capitalize(),
                                                                      statements),
                                                cpu, memory, count)
        self._load_balancer(self.services["web"])

    def _service(self, name: str, task_role: iam.Role, cpu: int, memory: int,
                 count: int) -> ecs.FargateService:
        network_faults = self.cfg.fis_network_faults and name in ("web", "matcher")
        task = ecs.FargateTaskDefinition(
            self, f"{name.capitalize()}Task", cpu=cpu, memory_limit_mib=memory,
            family=f"tulip-{name}", task_role=task_role, execution_role=self.execution_role,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.X86_64,
                operating_system_family=ecs.OperatingSystemFamily.LINUX),
            enable_fault_injection=network_faults or None,
            pid_mode=ecs.PidMode.TASK if network_faults else None,
            volumes=[ecs.Volume(name="metrics")])
        logs_group = self._log_group(f"{name.capitalize()}Service")
        log_driver = ecs.LogDrivers.aws_logs(stream_prefix=name, log_group=logs_group)
        app = task.add_container(
            "app", image=ecs.ContainerImage.from_docker_image_asset(self.images["service"]),
            command=[name], environment={**self.environment_vars,
                                         "OTEL_SERVICE_NAME": f"tulipbroker-{name}"},
            secrets=self.secrets, logging=log_driver, essential=True,
            readonly_root_filesystem=False,
            port_mappings=[ecs.PortMapping(container_port=APP_PORT)] if name == "web" else None,
            stop_timeout=cdk.Duration.seconds(30))
        app.add_mount_points(ecs.MountPoint(container_path=METRICS_DIR, source_volume="metrics",
                                            read_only=False))
        if name in ("web", "matcher", "worker"):
            # The projector publishes its own metrics; the others get a publisher that reads the
            # same multiprocess directory (ops/metrics_export.py).
            metrics = task.add_container(
                "metrics", image=ecs.ContainerImage.from_docker_image_asset(self.images["service"]),
                command=["metrics"], environment=self.environment_vars, secrets=self.secrets,
                logging=log_driver, essential=False, memory_reservation_mib=64)
            metrics.add_mount_points(ecs.MountPoint(container_path=METRICS_DIR,
                                                    source_volume="metrics", read_only=False))
        task.add_container(
            "otel-collector", image=ecs.ContainerImage.from_registry(ADOT_COLLECTOR_IMAGE),
            command=["--config=/etc/ecs/ecs-default-config.yaml"], essential=False,
            memory_reservation_mib=64, logging=log_driver)
        if network_faults:
            self._fis_sidecar(task, log_driver)
        service = ecs.FargateService(
            self, f"{name.capitalize()}Service", cluster=self.cluster, task_definition=task,
            desired_count=count, service_name=f"tulip-{name}",
            security_groups=[self.task_sg], assign_public_ip=False,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
            min_healthy_percent=50 if count > 1 else 0, max_healthy_percent=200,
            enable_execute_command=False,  # ECS Exec conflicts with the FIS SSM sidecar
            propagate_tags=ecs.PropagatedTagSource.SERVICE)
        acknowledge(task, "AwsSolutions-ECS2",
                    "Plain environment variables carry names and URLs only (tables, queues, "
                    "hosts); every secret is an ECS secret from Secrets Manager or SSM.")
        return service

    def _fis_sidecar(self, task: ecs.FargateTaskDefinition, log_driver: ecs.LogDriver) -> None:
        """FIS's aws:ecs:task network actions run SSM documents inside the task: an SSM agent
        sidecar registers the task as a managed instance tagged with its task ARN."""
        instance_role = getattr(self, "_fis_instance_role", None)
        if instance_role is None:
            instance_role = iam.Role(
                self, "FisManagedInstanceRole",
                assumed_by=iam.ServicePrincipal("ssm.amazonaws.com"),
                managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(
                    "AmazonSSMManagedInstanceCore")])
            instance_role.add_to_policy(iam.PolicyStatement(
                actions=["ssm:DeleteActivation", "ssm:DeregisterManagedInstance"],
                resources=["*"]))
            acknowledge(instance_role, "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:"
                                       "policy/AmazonSSMManagedInstanceCore]",
                        "AmazonSSMManagedInstanceCore is what a managed instance's role needs "
                        "(FIS ECS task actions: the SSM agent sidecar).")
            acknowledge_wildcards(
                instance_role, "The sidecar deletes its own activation and deregisters its own "
                               "managed instance on stop; their ids exist only at run time.",
                allow=["Resource::*"])
            self._fis_instance_role = instance_role
        assert task.task_role is not None
        task.task_role.add_to_principal_policy(iam.PolicyStatement(
            actions=["ssm:CreateActivation", "ssm:AddTagsToResource"], resources=["*"]))
        task.task_role.add_to_principal_policy(iam.PolicyStatement(
            actions=["iam:PassRole"], resources=[instance_role.role_arn]))
        task.add_container(
            "fis-ssm-agent", image=ecs.ContainerImage.from_registry(SSM_AGENT_IMAGE),
            entry_point=["/bin/bash", "-c"], command=[FIS_SIDECAR_SCRIPT.read_text()],
            environment={"MANAGED_INSTANCE_ROLE_NAME": instance_role.role_name},
            essential=False, memory_reservation_mib=64, logging=log_driver)

    def _load_balancer(self, web: ecs.FargateService) -> None:
        cfg = self.cfg
        self.zone = route53.HostedZone.from_hosted_zone_attributes(
            self, "Zone", hosted_zone_id=cfg.hosted_zone_id, zone_name=cfg.domain_name)
        self.certificate = acm.Certificate(
            self, "Certificate", domain_name=cfg.api_domain,
            subject_alternative_names=[self.regional_domain],
            validation=acm.CertificateValidation.from_dns(self.zone))
        self.alb = elbv2.ApplicationLoadBalancer(
            self, "Alb", vpc=self.vpc, internet_facing=True, security_group=self.alb_sg,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            drop_invalid_header_fields=True, idle_timeout=cdk.Duration.seconds(120))
        acknowledge(self.alb, "AwsSolutions-ELB2",
                    "ALB access logs can only go to an SSE-S3 bucket, and every bucket of this app "
                    "is encrypted with the region's customer-managed key; requests are logged by "
                    "the ASGI tier (JSON lines with request ids, CloudWatch Logs).")
        https = self.alb.add_listener("Https", port=443, certificates=[self.certificate],
                                      ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS, open=False)
        self.alb.add_redirect(source_port=80, target_port=443)
        # WebSockets need nothing special on an ALB: the upgrade passes through, and the
        # heartbeat (WS_HEARTBEAT_S) keeps idle sockets well inside the idle timeout.
        https.add_targets(
            "Web", port=APP_PORT, protocol=elbv2.ApplicationProtocol.HTTP, targets=[web],
            deregistration_delay=cdk.Duration.seconds(30),
            health_check=elbv2.HealthCheck(path="/readyz", healthy_http_codes="200",
                                           interval=cdk.Duration.seconds(10),
                                           healthy_threshold_count=2,
                                           unhealthy_threshold_count=3))

    # ------------------------------------------------------------------------------ DNS
    def _dns(self) -> None:
        """This region's half of the failover pair: a health check on GET /region through the
        region's own name, and the api record, PRIMARY in the leader region, SECONDARY elsewhere
        (with more regions, the others answer their regional names only)."""
        cfg = self.cfg
        route53.ARecord(self, "RegionalRecord", zone=self.zone,
                        record_name=self.regional_domain,
                        target=route53.RecordTarget.from_alias(
                            route53_targets.LoadBalancerTarget(self.alb)))
        self.health_check = route53.CfnHealthCheck(
            self, "RegionHealthCheck",
            health_check_config=route53.CfnHealthCheck.HealthCheckConfigProperty(
                type="HTTPS", fully_qualified_domain_name=self.regional_domain, port=443,
                resource_path="/region", request_interval=10, failure_threshold=3,
                enable_sni=True),
            health_check_tags=[route53.CfnHealthCheck.HealthCheckTagProperty(
                key="Name", value=f"tulip-{self.region}-region")])
        position = cfg.regions.index(self.region)
        if position > 1:
            return
        self.failover_record = route53.CfnRecordSet(
            self, "FailoverRecord", hosted_zone_id=cfg.hosted_zone_id, name=cfg.api_domain,
            type="A", set_identifier=f"tulip-{self.region}",
            failover="PRIMARY" if position == 0 else "SECONDARY",
            health_check_id=self.health_check.attr_health_check_id,
            alias_target=route53.CfnRecordSet.AliasTargetProperty(
                dns_name=self.alb.load_balancer_dns_name,
                hosted_zone_id=self.alb.load_balancer_canonical_hosted_zone_id,
                evaluate_target_health=True))



class _ParameterSecret(ecs.Secret):
    """An ECS secret from an SSM parameter named by its full ARN, in any region: ECS reads a
    parameter of another region when given its ARN, which `ecs.Secret.from_ssm_parameter` cannot
    express for an ARN that holds the (deploy-time) account id."""

    def __init__(self, arn: str) -> None:
        super().__init__()
        self._arn = arn

    @property
    def arn(self) -> str:
        return self._arn

    @property
    def has_field(self) -> bool:
        return False

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        return iam.Grant.add_to_principal(grantee=grantee, actions=["ssm:GetParameters"],
                                          resource_arns=[self._arn])
