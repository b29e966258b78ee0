"""`manage.py gate`: the pipeline gate's verdict as JSON on stdout; exit 0 on pass, 1 on fail."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ops import gate
from ops.management.commands._common import parse_symbols


class Command(BaseCommand):
    help = "SLO gate: p95 <= 250 ms, 5xx <= 1 %, zero double fills, zero seq gaps."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--window", type=int, default=gate.DEFAULT_WINDOW_S,
                            help="metrics window in seconds (default 300)")
        parser.add_argument("--symbol", help="limit the ledger checks to symbol(s)")

    def handle(self, *args: Any, **options: Any) -> None:
        if not 60 <= options["window"] <= 86_400:
            raise CommandError("--window: must be between 60 and 86400 seconds")
        try:
            verdict = gate.evaluate(settings.TULIP, options["window"],
                                    symbols=parse_symbols(options["symbol"]))
        except (ClientError, BotoCoreError) as exc:
            raise CommandError(f"AWS is not reachable or refused: {type(exc).__name__}") from None
        self.stdout.write(json.dumps(verdict))
        if not verdict["pass"]:
            raise SystemExit(1)
