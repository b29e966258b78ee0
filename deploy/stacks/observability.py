"""The region's SLO alarms and dashboard (namespace TulipBroker, dimension Region: what
ops/metrics_export.py publishes), and the alarm topic."""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from deploy.config import REPLICATION_LATENCY, SLO_METRICS, SLO_NAMESPACE, SLO_UNITS, DeployConfig

# The alarms that stop every FIS experiment: the user-visible SLOs and the invariant.
STOP_CONDITION_METRICS = ("Http5xxRate", "LatencyP99", "EventLag", "DoubleFillViolations")


def alarm_name(region: str, metric: str) -> str:
    return f"tulip-{region}-{metric}"


class Observability(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, cfg: DeployConfig,
                 key: kms.IKey, region: str, services: Mapping[str, ecs.FargateService],
                 queues: Mapping[str, sqs.IQueue],
                 load_balancer: elbv2.ApplicationLoadBalancer) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(self, "AlarmTopic", master_key=key, enforce_ssl=True,
                               display_name=f"TulipBroker alarms ({region})")
        if cfg.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(cfg.alarm_email))
        self.metrics: dict[str, cloudwatch.Metric] = {}
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        for name in SLO_METRICS:
            threshold = cfg.thresholds[name]
            metric = cloudwatch.Metric(
                namespace=SLO_NAMESPACE, metric_name=name, dimensions_map={"Region": region},
                statistic=threshold.statistic, period=cdk.Duration.seconds(threshold.period_s),
                unit=cloudwatch.Unit(SLO_UNITS[name].upper()) if SLO_UNITS.get(name) else None)
            alarm = metric.create_alarm(
                self, f"{name}Alarm", alarm_name=alarm_name(region, name),
                alarm_description=(f"TulipBroker SLO {name} in {region} above "
                                   f"{threshold.limit:g} ({SLO_UNITS.get(name, '')})"
                                   f"; docs/deploy.md, \"Alarms\""),
                threshold=threshold.limit,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=threshold.evaluation_periods,
                datapoints_to_alarm=threshold.evaluation_periods,
                # No traffic publishes nothing (ops/metrics_export.py leaves such values out):
                # silence is not a breach. ReplicationLatency has no publisher yet.
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING)
            alarm.add_alarm_action(cw_actions.SnsAction(self.topic))
            alarm.add_ok_action(cw_actions.SnsAction(self.topic))
            self.metrics[name] = metric
            self.alarms[name] = alarm
        self.stop_condition_alarms = [self.alarms[name] for name in STOP_CONDITION_METRICS]
        self.dashboard = self._dashboard(cfg, region, services, queues, load_balancer)

    def _dashboard(self, cfg: DeployConfig, region: str,
                   services: Mapping[str, ecs.FargateService], queues: Mapping[str, sqs.IQueue],
                   load_balancer: elbv2.ApplicationLoadBalancer) -> cloudwatch.Dashboard:
        dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=f"tulip-{region}")
        dashboard.add_widgets(cloudwatch.AlarmStatusWidget(
            title="SLO alarms", alarms=list(self.alarms.values()), width=24, height=3))
        slo_widgets: list[cloudwatch.IWidget] = [
            cloudwatch.GraphWidget(
                title=name, left=[self.metrics[name]], width=6, height=6,
                left_annotations=[cloudwatch.HorizontalAnnotation(
                    value=cfg.thresholds[name].limit, label="alarm")])
            for name in SLO_METRICS]
        dashboard.add_widgets(*slo_widgets)
        replication = [
            cloudwatch.Metric(namespace="AWS/DynamoDB", metric_name=REPLICATION_LATENCY,
                              dimensions_map={"TableName": cfg.table_name(role),
                                              "ReceivingRegion": other},
                              statistic="Average", period=cdk.Duration.minutes(1),
                              label=f"{role} -> {other}")
            for role in ("orders", "trades") for other in cfg.regions if other != region]
        queue_age = [queue.metric_approximate_age_of_oldest_message(label=symbol)
                     for symbol, queue in queues.items()]
        dashboard.add_widgets(
            cloudwatch.GraphWidget(title="ECS CPU %", width=8, height=6, left=[
                service.metric_cpu_utilization(label=name) for name, service in services.items()]),
            cloudwatch.GraphWidget(title="Events queue: oldest message (s)", width=8, height=6,
                                   left=queue_age),
            cloudwatch.GraphWidget(
                title="ALB: 5xx and latency", width=8, height=6,
                left=[load_balancer.metrics.http_code_elb(elbv2.HttpCodeElb.ELB_5XX_COUNT)],
                right=[load_balancer.metrics.target_response_time()]))
        if replication:
            dashboard.add_widgets(cloudwatch.GraphWidget(
                title="DynamoDB replication latency (ms, AWS/DynamoDB)", width=24, height=6,
                left=replication))
        return dashboard
