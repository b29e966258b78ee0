"""`manage.py publish_metrics`: one publish of the SLO metrics (cumulative since the processes
started) to CloudWatch and the admin's SLO panel; prints what it sent. The projector does this
periodically; this is for cron, the runbooks and tests."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ops import metrics_export, services


class Command(BaseCommand):
    help = "Publish the TulipBroker SLO metrics once (CloudWatch + admin SLO panel)."

    def handle(self, *args: Any, **options: Any) -> None:
        cfg = settings.TULIP
        values = metrics_export.slo_values(metrics_export.read_counts())
        try:
            metrics_export.put_cloudwatch(cfg, values, metrics_export.dimensions(cfg))
        except (ClientError, BotoCoreError) as exc:
            raise CommandError(f"CloudWatch refused or unreachable: {type(exc).__name__}") from None
        services.record_samples(values)
        self.stdout.write(json.dumps(values, sort_keys=True))
