"""TulipBroker's AWS deployment: a CDK app (`deploy/app.py`, docs/deploy.md), the gate Lambda's
handler (`deploy/lambdas/`) and the container's start script (`deploy/container/`).

Only `deploy.app`, `deploy.config` and `deploy.stacks` import aws_cdk; the container image ships
`deploy.container` and `deploy.lambdas`, which import nothing of the CDK. Nothing in the product
packages imports `deploy` (import-linter, pyproject.toml).
"""
