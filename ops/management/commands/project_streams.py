"""`manage.py project_streams [--once]`: the projector. Tails the DynamoDB Streams of the orders
and trades tables into Django's database (ProjectedOrder/ProjectedTrade) for the admin, resuming
from the stored checkpoints; never writes DynamoDB. The long-running form also publishes the SLO
metrics (namespace TulipBroker) to CloudWatch every --publish-every seconds, and (local stack
only) drives the chaos panel's experiments once a pass (ops/chaos.py).
"""

from __future__ import annotations

import logging
import signal
import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from ops import chaos, metrics_export, services
from ops.storage import StreamReader
from tulip import tracing

log = logging.getLogger("ops.projector")


class Command(BaseCommand):
    help = "Project DynamoDB Streams (orders, trades) into Django's database; publish SLO metrics."
    _reader: StreamReader | None = None

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true",
                            help="one pass until caught up, then exit (tests, cron)")
        parser.add_argument("--interval", type=float, default=1.0,
                            help="seconds between polls when caught up (default 1)")
        parser.add_argument("--publish-every", type=float, default=15.0,
                            help="seconds between CloudWatch publishes (0 = never)")
        parser.add_argument("--max-passes", type=int, default=0,
                            help="stop after this many passes (0 = until SIGTERM)")

    def handle(self, *args: Any, **options: Any) -> None:
        if not 0.05 <= options["interval"] <= 300:
            raise CommandError("--interval: must be between 0.05 and 300 seconds")
        if options["publish_every"] < 0:
            raise CommandError("--publish-every: must be >= 0")
        cfg = settings.TULIP
        tracing.setup_tracing("projector")
        if options["once"]:
            total = self._drain(cfg, until_empty=True)
            self.stdout.write(f"projected {total.applied} of {total.records} records "
                              f"from {total.shards} shards")
            return
        stop = {"now": False}

        def _stop(signum: int, frame: object) -> None:
            stop["now"] = True

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        log.info("projector started")
        previous = metrics_export.read_counts()
        last_publish = time.monotonic()
        passes = 0
        while not stop["now"]:
            passes += 1
            try:
                result = self._drain(cfg)
                if result.records:
                    log.info("projected", extra={"records": result.records,
                                                 "applied": result.applied})
            except (ClientError, BotoCoreError, DatabaseError) as exc:
                # A dependency blip: keep the checkpoint, try again next poll.
                log.warning("projection pass failed", extra={"error": type(exc).__name__})
            self._chaos(cfg)
            every = options["publish_every"]
            if every and time.monotonic() - last_publish >= every:
                previous = self._publish(cfg, previous)
                last_publish = time.monotonic()
            if options["max_passes"] and passes >= options["max_passes"]:
                break
            time.sleep(options["interval"])
        log.info("projector stopped")

    def _drain(self, cfg: Any, until_empty: bool = False) -> services.ProjectionPass:
        """Passes while a backlog waits (or, `until_empty`, until a pass finds nothing). The
        polling loop stops after a pass that caught up: under steady load, passing again at once
        read each shard's few new records per pass and never slept (4.5-8 passes a second at 100
        orders/s, each a GetShardIterator and two GetRecords per shard, about a quarter of a
        core here); after its interval's sleep a pass takes what accumulated in one go
        (docs/benchmarks.md, "Load: smoke and stress"). A projection is at most one interval
        (default 1 s) plus a pass behind the table."""
        if self._reader is None:  # kept across passes: it describes the streams only now and then
            self._reader = StreamReader(cfg)
        total = services.ProjectionPass()
        for _ in range(1000):  # bounded: a pass that keeps finding records yields to the loop
            with tracing.span("projector.pass"):
                result = services.project_once(cfg, self._reader)
            total.records += result.records
            total.applied += result.applied
            total.shards = result.shards
            if not (result.backlog or (until_empty and result.records)):
                break
        return total

    def _chaos(self, cfg: Any) -> None:
        """The chaos panel's experiments end on time and on their stop conditions even with no
        console open (ops/chaos.py); local stack only, like the panel."""
        if cfg.environment == "production" or not cfg.is_local_aws:
            return
        try:
            for what in chaos.tick(cfg):
                log.warning("chaos", extra={"action": what})
        except Exception:  # never let an experiment's trouble stop the projection
            log.exception("chaos tick failed")

    def _publish(self, cfg: Any, previous: metrics_export.Counts) -> metrics_export.Counts:
        current = metrics_export.read_counts()
        values = metrics_export.slo_values(current, previous)
        try:
            metrics_export.put_cloudwatch(cfg, values, metrics_export.dimensions(cfg))
            services.record_samples(values)
        except (ClientError, BotoCoreError, DatabaseError) as exc:
            log.warning("metrics publish failed", extra={"error": type(exc).__name__})
        return current
