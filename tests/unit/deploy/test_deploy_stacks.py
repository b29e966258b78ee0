"""CDK assertions on the synthesized stacks: encryption with the region's key, the queues the
scale-out routing needs, one alarm per SLO metric, FIS templates stopped by alarms, Route 53
failover on health checks, the services and the pipeline gate."""

from __future__ import annotations

import json
from typing import Any

import pytest

from deploy.cfn import flatten
from deploy.config import SLO_METRICS, SLO_NAMESPACE, DeployConfig
from tests.unit.deploy.conftest import Assembly

CFG = DeployConfig()
REGION_STACKS = {CFG.stack_name("Region", region): region for region in CFG.regions}


def _template(assembly: Assembly, stack: str) -> Any:
    """aws_cdk.assertions over the synthesized JSON (imported here: it starts jsii)."""
    from aws_cdk.assertions import Template

    return Template.from_json(assembly.templates[stack])


def _key_ref(assembly: Assembly, stack: str) -> Any:
    """How the region stack names its KMS key: the KeysStack's exported ARN, imported."""
    refs = {json.dumps(queue["Properties"]["KmsMasterKeyId"], sort_keys=True)
            for queue in assembly.resources(stack, "AWS::SQS::Queue").values()}
    assert len(refs) == 1, refs
    ref = json.loads(refs.pop())
    export = flatten(ref)
    keys_stack = stack.replace("Region", "Keys")
    assert export.startswith(f"{keys_stack}:ExportsOutputFnGetAttDataKey"), export
    return ref


@pytest.mark.parametrize("stack", REGION_STACKS)
def test_everything_at_rest_is_encrypted_with_the_regions_key(assembly: Assembly,
                                                              stack: str) -> None:
    key = _key_ref(assembly, stack)
    queues = assembly.resources(stack, "AWS::SQS::Queue")
    assert len(queues) == len(CFG.symbols) + 4  # events per symbol, DLQ, tasks (+DLQ), control
    buckets = assembly.resources(stack, "AWS::S3::Bucket").values()
    assert buckets
    for bucket in buckets:
        (rule,) = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms",
                                                         "KMSMasterKeyID": key}
        assert bucket["Properties"]["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True}
    for policy in assembly.resources(stack, "AWS::S3::BucketPolicy").values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(s["Effect"] == "Deny" and s["Condition"] == {
            "Bool": {"aws:SecureTransport": "false"}} for s in statements)
    template = _template(assembly, stack)
    template.has_resource_properties("AWS::ElastiCache::ReplicationGroup", {
        "AtRestEncryptionEnabled": True, "KmsKeyId": key, "TransitEncryptionEnabled": True,
        "MultiAZEnabled": True, "AutomaticFailoverEnabled": True, "Engine": "valkey"})
    template.has_resource_properties("AWS::RDS::DBInstance", {
        "StorageEncrypted": True, "KmsKeyId": key, "MultiAZ": True})
    for kind, prop in (("AWS::Logs::LogGroup", "KmsKeyId"), ("AWS::SNS::Topic", "KmsMasterKeyId"),
                       ("AWS::SecretsManager::Secret", "KmsKeyId")):
        resources = assembly.resources(stack, kind)
        assert resources, kind
        for name, resource in resources.items():
            assert resource["Properties"][prop] == key, (kind, name)


@pytest.mark.parametrize("stack", REGION_STACKS)
def test_one_fifo_queue_per_symbol_with_its_dlq(assembly: Assembly, stack: str) -> None:
    queues = {q["Properties"]["QueueName"]: q["Properties"]
              for q in assembly.resources(stack, "AWS::SQS::Queue").values()}
    dlq = queues[CFG.events_dlq]
    assert dlq["FifoQueue"] is True
    for symbol in CFG.symbols:
        events = queues[CFG.events_queue(symbol)]
        assert events["FifoQueue"] is True
        assert events["ContentBasedDeduplication"] is False  # the producer's dedupe id
        assert events["VisibilityTimeout"] == CFG.lease_ttl_s  # = the default lease TTL
        assert events["RedrivePolicy"]["maxReceiveCount"] == CFG.dlq_max_receives
    assert {CFG.tasks_queue, CFG.matching_control_queue} <= set(queues)
    # Services get EVENTS_FIFO_URL as the {symbol} template (tulip/config.py events_queue_url).
    for task in assembly.resources(stack, "AWS::ECS::TaskDefinition").values():
        for container in task["Properties"]["ContainerDefinitions"]:
            env = {e["Name"]: e["Value"] for e in container.get("Environment", [])}
            if "EVENTS_FIFO_URL" in env:
                parts = env["EVENTS_FIFO_URL"]["Fn::Join"][1]
                assert parts[-2:] == [{"Ref": "AWS::AccountId"},
                                      f"/{CFG.events_queue_template}"], parts


@pytest.mark.parametrize("stack", REGION_STACKS)
def test_an_alarm_for_each_slo_metric(assembly: Assembly, stack: str) -> None:
    region = REGION_STACKS[stack]
    alarms = {a["Properties"]["MetricName"]: a["Properties"]
              for a in assembly.resources(stack, "AWS::CloudWatch::Alarm").values()
              if a["Properties"].get("Namespace") == SLO_NAMESPACE}
    assert set(alarms) == set(SLO_METRICS)
    for name, alarm in alarms.items():
        assert alarm["Dimensions"] == [{"Name": "Region", "Value": region}]
        assert alarm["Threshold"] == CFG.thresholds[name].limit
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
        assert alarm["AlarmActions"], name
    (dashboard,) = assembly.resources(stack, "AWS::CloudWatch::Dashboard").values()
    body = flatten(dashboard["Properties"]["DashboardBody"])
    for name in SLO_METRICS:
        assert f'"{SLO_NAMESPACE}","{name}"' in body, name


@pytest.mark.parametrize("stack", REGION_STACKS)
def test_every_fis_template_stops_on_slo_alarms(assembly: Assembly, stack: str) -> None:
    alarms = {name for name, a in assembly.resources(stack, "AWS::CloudWatch::Alarm").items()
              if a["Properties"].get("Namespace") == SLO_NAMESPACE}
    templates = assembly.resources(stack, "AWS::FIS::ExperimentTemplate")
    actions = {action["ActionId"] for t in templates.values()
               for action in t["Properties"]["Actions"].values()}
    assert actions == {
        "aws:ecs:stop-task", "aws:elasticache:replicationgroup-interrupt-az-power",
        "aws:ecs:task-network-latency", "aws:ecs:task-network-packet-loss",
        "aws:dynamodb:global-table-pause-replication",
        "aws:network:route-table-disrupt-cross-region-connectivity"}
    assert len(templates) == 5
    for name, template in templates.items():
        stops = template["Properties"]["StopConditions"]
        assert stops, name
        for stop in stops:
            assert stop["Source"] == "aws:cloudwatch:alarm"
            assert stop["Value"]["Fn::GetAtt"][0] in alarms, (name, stop)
        role = template["Properties"]["RoleArn"]["Fn::GetAtt"][0]
        assert assembly.resources(stack)[role]["Type"] == "AWS::IAM::Role"
    zone_scoped = [t for t in templates.values()
                   if any(a["ActionId"] == "aws:ecs:stop-task"
                          for a in t["Properties"]["Actions"].values())]
    for target in zone_scoped[0]["Properties"]["Targets"].values():
        assert target["Filters"][0]["Path"] == "AvailabilityZone"


@pytest.mark.parametrize("stack", REGION_STACKS)
def test_failover_record_points_at_the_region_health_check(assembly: Assembly,
                                                           stack: str) -> None:
    region = REGION_STACKS[stack]
    resources = assembly.resources(stack)
    checks = assembly.resources(stack, "AWS::Route53::HealthCheck")
    (check_name,) = checks
    config = checks[check_name]["Properties"]["HealthCheckConfig"]
    assert config["ResourcePath"] == "/region"
    assert config["Type"] == "HTTPS"
    records = [r["Properties"] for r in assembly.resources(stack, "AWS::Route53::RecordSet")
               .values() if "Failover" in r["Properties"]]
    (record,) = records
    assert record["Name"] == CFG.api_domain
    assert record["Failover"] == ("PRIMARY" if region == CFG.leader_region else "SECONDARY")
    assert record["HealthCheckId"] == {"Fn::GetAtt": [check_name, "HealthCheckId"]}
    assert resources[record["AliasTarget"]["DNSName"]["Fn::GetAtt"][0]]["Type"] == \
        "AWS::ElasticLoadBalancingV2::LoadBalancer"


@pytest.mark.parametrize("stack", REGION_STACKS)
def test_services_run_the_readme_processes(assembly: Assembly, stack: str) -> None:
    services = {s["Properties"]["ServiceName"]: s["Properties"]
                for s in assembly.resources(stack, "AWS::ECS::Service").values()}
    assert set(services) == {"tulip-web", "tulip-matcher", "tulip-worker", "tulip-projector"}
    assert services["tulip-matcher"]["DesiredCount"] >= 2
    assert services["tulip-web"]["LoadBalancers"]
    tasks = {t["Properties"]["Family"]: t["Properties"]
             for t in assembly.resources(stack, "AWS::ECS::TaskDefinition").values()}
    for role in ("web", "matcher", "worker", "projector"):
        containers = {c["Name"]: c for c in tasks[f"tulip-{role}"]["ContainerDefinitions"]}
        assert containers["app"]["Command"] == [role]
        assert containers["app"]["Essential"] is True
        assert "otel-collector" in containers  # traces to X-Ray (ADOT)
        assert {s["Name"] for s in containers["app"]["Secrets"]} >= {
            "DJANGO_SECRET_KEY", "COGNITO_USER_POOL_ID", "DB_PASSWORD", "REDIS_AUTH_TOKEN"}
    for role in ("web", "matcher"):  # FIS ECS network faults
        assert tasks[f"tulip-{role}"]["EnableFaultInjection"] is True
    (group,) = assembly.resources(stack, "AWS::ElasticLoadBalancingV2::TargetGroup").values()
    assert group["Properties"]["HealthCheckPath"] == "/readyz"


@pytest.mark.parametrize("stack", REGION_STACKS)
def test_gate_runs_the_smoke_load_then_the_assertion(assembly: Assembly, stack: str) -> None:
    (machine,) = assembly.resources(stack, "AWS::StepFunctions::StateMachine").values()
    definition = flatten(machine["Properties"]["DefinitionString"])
    assert "arn:<AWS::Partition>:states:::ecs:runTask.sync" in definition
    assert '"python","-m","bench.load","--profile","smoke"' in definition
    (function_name,) = assembly.resources(stack, "AWS::Lambda::Function")
    assert '"AssertGate":{"Next":"Passed?"' in definition
    assert f'"ResultPath":"$.gate","Resource":"<{function_name}.Arn>"' in definition
    assert '"Variable":"$.gate.pass","BooleanEquals":true' in definition
    assert '"Type":"Fail","Error":"GateFailed"' in definition
    function = assembly.resources(stack)[function_name]
    env = function["Properties"]["Environment"]["Variables"]
    assert env["TULIP_ENV"] == "production"
    assert function["Properties"]["PackageType"] == "Image"
