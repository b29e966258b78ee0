"""`manage.py failover --to REGION`: the planned failover (docs/runbooks/region-failover.md)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ops import regions


class Command(BaseCommand):
    help = "Hand the leadership to REGION: the current leader stops writing, REGION takes over."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--to", required=True, help="the region to lead")
        parser.add_argument("--wait", type=float, default=regions.FAILOVER_CATCH_UP_S,
                            help="seconds to wait for the new leader to see it (default 30)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            record = regions.failover(settings.TULIP, options["to"], options["wait"],
                                      say=lambda line: self.stdout.write(line))
        except regions.FailoverRefused as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"done: {record.leader_region} leads under term {record.term}")
