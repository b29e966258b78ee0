"""The Celery app. Tasks stay thin (parse -> service -> ack); the broker is SQS (kombu[sqs]).

`--matcher` turns a worker into the matcher: its bootstep runs the receive loop over the events
FIFO queue (docs/architecture.md). Run it with its own queue and concurrency 1:
  celery -A tulip worker -Q matching-control -c 1 --pool solo --matcher
"""

import os

from celery import Celery
from click import Option

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tulip.settings")

app = Celery("tulip")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["tulip", "orders", "matching", "realtime", "ops"])
app.user_options["worker"].add(
    Option(["--matcher"], is_flag=True, default=False,
           help="Run the matching loop (events FIFO queue) in this worker."))

from celery.signals import worker_init  # noqa: E402

from tulip.matcher_step import MatcherStep  # noqa: E402

app.steps["worker"].add(MatcherStep)


@worker_init.connect
def _trace_worker(**_: object) -> None:
    from tulip.tracing import setup_tracing

    setup_tracing("worker")
