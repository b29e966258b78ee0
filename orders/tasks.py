"""Thin Celery entry points for order entry."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from orders import services


@shared_task(name="orders.sweep_accepted", ignore_result=True)
def sweep_accepted() -> int:
    """Celery beat: re-enqueue ACCEPTED orders stuck between commit and SQS send."""
    cfg = settings.TULIP
    return services.sweep_accepted(cfg, min_age_s=cfg.sweeper_min_age_s)
