"""`manage.py partition REGION_A REGION_B [REGION_C ...]`: a partition drill on the local stack
(tulip/drills.py): REGION_A is cut from each of the others."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tulip import drills


class Command(BaseCommand):
    help = ("Cut replication, forwarding and health checks between REGION_A and each other "
            "region named (local stack).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("region_a")
        parser.add_argument("others", nargs="+", metavar="region_b")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            drills.partition(settings.TULIP, options["region_a"], *options["others"])
        except (drills.DrillRefused, ValueError) as exc:
            raise CommandError(str(exc)) from None
        for other in options["others"]:
            self.stdout.write(f"partitioned: {options['region_a']} <-/-> {other}")
