# FIS aws:ecs:task network actions (deploy/stacks/chaos.py) run SSM documents inside the task.
# This non-essential sidecar registers the task as an SSM managed instance tagged with its task
# ARN (what FIS resolves targets by), runs the agent, and on stop deregisters itself.
# (No dollar-brace expansions: CloudFormation would read them as Fn::Sub parameters.)
set -eu
dnf install -y -q jq awscli procps-ng >/dev/null
if [ -z "$MANAGED_INSTANCE_ROLE_NAME" ] || [ -z "$ECS_CONTAINER_METADATA_URI_V4" ]; then
  echo "fis sidecar: MANAGED_INSTANCE_ROLE_NAME or the task metadata endpoint is missing" >&2
  exec sleep infinity
fi
TASK=$(curl -fsS "$ECS_CONTAINER_METADATA_URI_V4/task")
TASK_ARN=$(echo "$TASK" | jq -er .TaskARN)
ZONE=$(echo "$TASK" | jq -er .AvailabilityZone)
REGION=$(echo "$ZONE" | sed 's/.$//')
TASK_ID=$(basename "$TASK_ARN")
ACTIVATION=$(aws ssm create-activation --region "$REGION" --registration-limit 1 \
  --iam-role "$MANAGED_INSTANCE_ROLE_NAME" --default-instance-name "mi-$TASK_ID" \
  --tags "Key=ECS_TASK_ARN,Value=$TASK_ARN" "Key=ECS_TASK_AVAILABILITY_ZONE,Value=$ZONE" \
         "Key=FAULT_INJECTION_SIDECAR,Value=true")
ACTIVATION_ID=$(echo "$ACTIVATION" | jq -er .ActivationId)
AGENT_PID=0
cleanup() {
  aws ssm delete-activation --region "$REGION" --activation-id "$ACTIVATION_ID" || true
  INSTANCE=$(jq -er .ManagedInstanceID /var/lib/amazon/ssm/registration 2>/dev/null || true)
  if [ -n "$INSTANCE" ]; then
    aws ssm deregister-managed-instance --region "$REGION" --instance-id "$INSTANCE" || true
  fi
  kill -TERM "$AGENT_PID" 2>/dev/null || true
}
trap cleanup TERM INT
amazon-ssm-agent -register -region "$REGION" -id "$ACTIVATION_ID" \
  -code "$(echo "$ACTIVATION" | jq -er .ActivationCode)"
amazon-ssm-agent &
AGENT_PID=$!
wait "$AGENT_PID"
