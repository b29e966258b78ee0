"""`manage.py state_hash`: this region's ledger hash (ops/regions.py), to compare regions."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from ops import regions


class Command(BaseCommand):
    help = "Print this region's ledger hash and item counts as one JSON line."

    def handle(self, *args: Any, **options: Any) -> None:
        digest, counts = regions.state_hash(settings.TULIP)
        self.stdout.write(json.dumps({"region": settings.TULIP.aws_region, "stateHash": digest,
                                      "items": counts}))
