"""FIS experiment templates for the failures the rules allow (docs/rules.md; docs/deploy.md,
"Chaos experiments"), each stopped by the region's SLO alarms and run by a role of its own.

  ecs-stop-task-az        aws:ecs:stop-task, the web and matcher tasks of one zone
  cache-az-power          aws:elasticache:replicationgroup-interrupt-az-power (Valkey fails over)
  api-latency             aws:ecs:task-network-latency on the web tasks
  dynamodb-degraded       aws:ecs:task-network-packet-loss towards DYNAMODB from the web and
                          matcher tasks + aws:dynamodb:global-table-pause-replication
  inter-region-blackhole  aws:network:route-table-disrupt-cross-region-connectivity + the pause

FIS has no action that throttles DynamoDB for an application (aws:fis:inject-api-throttle-error
accepts only the ec2 namespace), so "DynamoDB throttling" is approximated by what the clients see
of it: failed and slow calls (packet loss towards the regional DynamoDB endpoints from the web and
matcher tasks: SDK retries, timeouts, conditional writes that must be recomputed), plus paused
replication of the global tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticache as elasticache
from aws_cdk import aws_fis as fis
from aws_cdk import aws_iam as iam
from constructs import Construct

from deploy.config import DeployConfig
from deploy.nag import acknowledge_wildcards
from deploy.stacks import grants

DURATION = "PT10M"
Target = fis.CfnExperimentTemplate.ExperimentTemplateTargetProperty
Action = fis.CfnExperimentTemplate.ExperimentTemplateActionProperty
PAUSE_REPLICATION = ("dynamodb:PutResourcePolicy", "dynamodb:DeleteResourcePolicy",
                     "dynamodb:GetResourcePolicy", "dynamodb:DescribeTable",
                     "dynamodb:InjectError")
SSM_FIS_DOCUMENTS = ("AWSFIS-Run-Network-Latency-ECS", "AWSFIS-Run-Network-Packet-Loss-ECS")


class Experiments(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, cfg: DeployConfig, region: str,
                 cluster: ecs.ICluster, services: Mapping[str, ecs.FargateService],
                 cache: elasticache.CfnReplicationGroup, subnets: Sequence[cdk.aws_ec2.ISubnet],
                 stop_alarms: Sequence[cloudwatch.IAlarm]) -> None:
        super().__init__(scope, construct_id)
        self.cfg, self.region, self.cluster = cfg, region, cluster
        self.stop_conditions = [
            fis.CfnExperimentTemplate.ExperimentTemplateStopConditionProperty(
                source="aws:cloudwatch:alarm", value=alarm.alarm_arn) for alarm in stop_alarms]
        self.zone = cdk.Fn.select(0, cdk.Fn.get_azs(region))
        self.templates: dict[str, fis.CfnExperimentTemplate] = {}
        stack = cdk.Stack.of(self)
        task_arns = stack.format_arn(service="ecs", resource="task",
                                     resource_name=f"{cluster.cluster_name}/*")
        table_arns = [grants.table_arn(cfg, region, role) for role in ("orders", "trades")]
        web, matcher = services["web"], services["matcher"]

        # 1. ECS tasks in one AZ stop (web and matcher).
        self._template(
            "ecs-stop-task-az", "Stop every web and matcher task in one availability zone",
            targets={name: self._tasks(services[name], zone_filter=True)
                     for name in ("web", "matcher")},
            actions={f"stop-{name}": Action(action_id="aws:ecs:stop-task",
                                            targets={"Tasks": name})
                     for name in ("web", "matcher")},
            statements=[
                iam.PolicyStatement(actions=["ecs:StopTask", "ecs:DescribeTasks"],
                                    resources=[task_arns]),
                iam.PolicyStatement(actions=["ecs:ListTasks"], resources=["*"],
                                    conditions={"ArnEquals": {"ecs:cluster": cluster.cluster_arn}}),
                _tag_lookup()])

        # 2. The cache's AZ loses power: Multi-AZ fails over to the replica.
        cache_arn = stack.format_arn(service="elasticache", resource="replicationgroup",
                                     resource_name=cache.ref,
                                     arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME)
        self._template(
            "cache-az-power", "Interrupt power in the Valkey primary's zone (failover)",
            targets={"cache": Target(
                resource_type="aws:elasticache:replicationgroup", resource_arns=[cache_arn],
                selection_mode="ALL", parameters={"availabilityZoneIdentifier": self.zone})},
            actions={"interrupt-az-power": Action(
                action_id="aws:elasticache:replicationgroup-interrupt-az-power",
                parameters={"duration": DURATION}, targets={"ReplicationGroups": "cache"})},
            statements=[
                iam.PolicyStatement(actions=["elasticache:InterruptClusterAzPower",
                                             "elasticache:DescribeReplicationGroups"],
                                    resources=[cache_arn]),
                _tag_lookup()])

        pause = Action(action_id="aws:dynamodb:global-table-pause-replication",
                       parameters={"duration": DURATION}, targets={"Tables": "tables"})
        tables = Target(resource_type="aws:dynamodb:global-table", resource_arns=table_arns,
                        selection_mode="ALL")
        pause_grant = iam.PolicyStatement(actions=list(PAUSE_REPLICATION), resources=table_arns)

        if cfg.fis_network_faults:
            ssm_grants = self._ssm_grants(task_arns)
            # 3. API latency: the web tasks answer 200 ms (± 50) slower.
            self._template(
                "api-latency", "Add 200 ms of network latency to the web tasks",
                targets={"web": self._tasks(web)},
                actions={"latency": Action(
                    action_id="aws:ecs:task-network-latency", targets={"Tasks": "web"},
                    parameters={"duration": DURATION, "delayMilliseconds": "200",
                                "jitterMilliseconds": "50", "sources": "0.0.0.0/0",
                                "useEcsFaultInjectionEndpoints": "true"})},
                statements=ssm_grants)
            # 4. DynamoDB degraded: lossy path to the regional endpoints, replication paused.
            self._template(
                "dynamodb-degraded",
                "Packet loss between the web and matcher tasks and DynamoDB; replication paused",
                targets={"web": self._tasks(web), "matcher": self._tasks(matcher),
                         "tables": tables},
                actions={
                    **{f"loss-{name}": Action(
                        action_id="aws:ecs:task-network-packet-loss", targets={"Tasks": name},
                        parameters={"duration": DURATION, "lossPercent": "30",
                                    "sources": "DYNAMODB",
                                    "useEcsFaultInjectionEndpoints": "true"})
                       for name in ("web", "matcher")},
                    "pause-replication": pause},
                statements=[*ssm_grants, pause_grant])

        # 5. The region cut off from the others (and the tables' replication paused with it).
        others = [other for other in cfg.regions if other != region]
        if others:
            vpc_arn = stack.format_arn(service="ec2", resource="vpc", resource_name="*")
            self._template(
                "inter-region-blackhole", "Cut this region's private subnets off from the others",
                targets={"subnets": Target(
                    resource_type="aws:ec2:subnet", selection_mode="ALL",
                    resource_arns=[stack.format_arn(service="ec2", resource="subnet",
                                                    resource_name=subnet.subnet_id)
                                   for subnet in subnets]),
                    "tables": tables},
                actions={
                    **{f"isolate-from-{other}": Action(
                        action_id="aws:network:route-table-disrupt-cross-region-connectivity",
                        targets={"Subnets": "subnets"},
                        parameters={"duration": DURATION, "region": other})
                       for other in others},
                    "pause-replication": pause},
                statements=[*_cross_region_grants(stack, vpc_arn), pause_grant])

    def _tasks(self, service: ecs.FargateService, zone_filter: bool = False) -> Target:
        return Target(
            resource_type="aws:ecs:task", selection_mode="ALL",
            parameters={"cluster": self.cluster.cluster_name, "service": service.service_name},
            filters=[fis.CfnExperimentTemplate.ExperimentTemplateTargetFilterProperty(
                path="AvailabilityZone", values=[self.zone])] if zone_filter else None)

    def _ssm_grants(self, task_arns: str) -> list[iam.PolicyStatement]:
        stack = cdk.Stack.of(self)
        documents = [stack.format_arn(service="ssm", account="", resource="document",
                                      resource_name=name) for name in SSM_FIS_DOCUMENTS]
        instances = stack.format_arn(service="ssm", resource="managed-instance",
                                     resource_name="*")
        return [
            iam.PolicyStatement(actions=["ecs:DescribeTasks"], resources=[task_arns]),
            iam.PolicyStatement(actions=["ssm:SendCommand"], resources=[*documents, instances]),
            iam.PolicyStatement(actions=["ssm:ListCommands", "ssm:CancelCommand"],
                                resources=["*"]),
            _tag_lookup()]

    def _template(self, name: str, description: str, *, targets: Mapping[str, Target],
                  actions: Mapping[str, Action],
                  statements: Sequence[iam.PolicyStatement]) -> None:
        role = iam.Role(
            self, f"{_camel(name)}Role", description=f"FIS experiment {name}",
            assumed_by=iam.ServicePrincipal("fis.amazonaws.com", conditions={
                "StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}}))
        for statement in statements:
            role.add_to_policy(statement)
        acknowledge_wildcards(
            role, "FIS resolves targets at run time: task, managed-instance, subnet and route "
                    "table ids exist only then (ARNs with a trailing *, in this account and "
                    "region); tag:GetResources, ssm:ListCommands/CancelCommand and "
                    "ecs:ListTasks (conditioned on the cluster) have no resource type. No "
                    "DynamoDB, SQS, S3 or KMS action here has a wildcard.",
            allow=["Resource::*", "Resource::arn:<AWS::Partition>:ecs:*:<AWS::AccountId>:task/*",
                   "Resource::arn:<AWS::Partition>:ssm:*:<AWS::AccountId>:managed-instance/*",
                   "Resource::arn:<AWS::Partition>:ec2:*:<AWS::AccountId>:*/*"])
        template = fis.CfnExperimentTemplate(
            self, _camel(name), description=description, role_arn=role.role_arn,
            stop_conditions=self.stop_conditions, targets=dict(targets), actions=dict(actions),
            tags={"Name": f"tulip-{self.region}-{name}"},
            experiment_options=fis.CfnExperimentTemplate.ExperimentTemplateExperimentOptionsProperty(
                account_targeting="single-account",
                empty_target_resolution_mode="fail"))
        self.templates[name] = template


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))


def _tag_lookup() -> iam.PolicyStatement:
    return iam.PolicyStatement(actions=["tag:GetResources"], resources=["*"])


def _cross_region_grants(stack: cdk.Stack, vpc_arn: str) -> list[iam.PolicyStatement]:
    """What aws:network:route-table-disrupt-cross-region-connectivity does: a route table of its
    own (tagged managedByFIS) with the other region's prefixes blackholed, swapped onto the target
    subnets and swapped back."""
    def arn(resource: str) -> str:
        return stack.format_arn(service="ec2", resource=resource, resource_name="*")

    return [
        iam.PolicyStatement(
            actions=["ec2:DescribeRouteTables", "ec2:DescribeSubnets", "ec2:DescribeVpcs",
                     "ec2:DescribeManagedPrefixLists", "ec2:DescribeNetworkInterfaces",
                     "ec2:DescribeVpcPeeringConnections", "ec2:GetManagedPrefixListEntries"],
            resources=["*"]),
        iam.PolicyStatement(
            actions=["ec2:CreateRouteTable", "ec2:CreateTags", "ec2:CreateManagedPrefixList",
                     "ec2:CreateNetworkInterface"],
            resources=[vpc_arn, arn("route-table"), arn("prefix-list"), arn("subnet"),
                       arn("network-interface"), arn("security-group")]),
        iam.PolicyStatement(
            actions=["ec2:AssociateRouteTable", "ec2:DisassociateRouteTable",
                     "ec2:ReplaceRouteTableAssociation", "ec2:CreateRoute",
                     "ec2:ModifyManagedPrefixList", "ec2:ModifyVpcEndpoint"],
            resources=[arn("route-table"), arn("subnet"), arn("prefix-list"),
                       arn("vpc-endpoint")]),
        iam.PolicyStatement(
            actions=["ec2:DeleteRouteTable", "ec2:DeleteManagedPrefixList",
                     "ec2:DeleteNetworkInterface"],
            resources=[arn("route-table"), arn("prefix-list"), arn("network-interface")],
            conditions={"StringEquals": {"aws:ResourceTag/managedByFIS": "true"}}),
    ]
