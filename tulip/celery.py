"""The Celery app. Tasks stay thin (parse -> service -> ack); the broker is SQS (kombu[sqs])."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tulip.settings")

app = Celery("tulip")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["tulip", "orders", "matching", "realtime", "ops"])
