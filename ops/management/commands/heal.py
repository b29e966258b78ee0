"""`manage.py heal`: end every partition drill (tulip/drills.py)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tulip import drills


class Command(BaseCommand):
    help = "End every partition drill: replication, forwarding and health checks flow again."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            drills.heal(settings.TULIP)
        except drills.DrillRefused as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write("healed")
