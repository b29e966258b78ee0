"""`manage.py partition REGION_A REGION_B`: a partition drill on the local stack (tulip/drills.py)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tulip import drills


class Command(BaseCommand):
    help = "Cut replication, forwarding and health checks between two regions (local stack)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("region_a")
        parser.add_argument("region_b")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            drills.partition(settings.TULIP, options["region_a"], options["region_b"])
        except (drills.DrillRefused, ValueError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"partitioned: {options['region_a']} <-/-> {options['region_b']}")
