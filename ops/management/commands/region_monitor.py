"""`manage.py region_monitor`: this region's health monitor (ops/regions.py), until SIGTERM."""

from __future__ import annotations

import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from ops import regions


class Command(BaseCommand):
    help = "Probe the other regions; step an isolated leader down; fail over when the leader is down."

    def handle(self, *args: Any, **options: Any) -> None:
        stopping = False

        def stop(*_: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        regions.run_monitor(settings.TULIP, lambda: stopping)
