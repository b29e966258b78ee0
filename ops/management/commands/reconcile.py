"""`manage.py reconcile [--symbol S[,S2]] [--since T] [--fix]`: audit DynamoDB (docs/rules.md).

Prints a summary, stores a ReconciliationRun with its Findings, exits 1 when anything was found
(also on a --fix run: the run found problems; the next run tells whether they are resolved)."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from ops import services
from ops.management.commands._common import parse_seconds, parse_since, parse_symbols
from ops.storage import StorageLimitExceeded


class Command(BaseCommand):
    help = ("Check DynamoDB's ledger: fills vs qty/filledQty, one order per idempotency key, "
            "gap-free seq per shard, ACCEPTED orders seen by the matcher, projection agreement. "
            "--fix appends Reconciled events with compensating cancels.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--symbol", help="symbol(s), comma-separated (default: all)")
        parser.add_argument("--since", help="only orders created at/after: ISO-8601 or 15m/2h/7d")
        parser.add_argument("--fix", action="store_true",
                            help="emit Reconciled events + compensating cancels for findings")
        parser.add_argument("--unseen-age", type=float, default=services.DEFAULT_UNSEEN_AGE_S,
                            help="ACCEPTED older than this many seconds counts as never seen")
        parser.add_argument("--projection-lag", type=float,
                            default=services.DEFAULT_PROJECTION_LAG_S,
                            help="allowed projector lag in seconds")
        parser.add_argument("--json", action="store_true", help="print the run as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        symbols = parse_symbols(options["symbol"])
        since = parse_since(options["since"])
        unseen = parse_seconds("--unseen-age", options["unseen_age"])
        lag = parse_seconds("--projection-lag", options["projection_lag"])
        try:
            run, result = services.reconcile(
                settings.TULIP, symbols, since, options["fix"], unseen, lag,
                triggered_by="manage.py reconcile")
        except (ClientError, BotoCoreError) as exc:
            raise CommandError(f"DynamoDB is not reachable or refused: {type(exc).__name__}: "
                               f"{str(exc)[:200]}") from None
        except DatabaseError as exc:
            raise CommandError(f"Django's database is not usable (did migrate run?): {exc}") from None
        except StorageLimitExceeded as exc:
            raise CommandError(str(exc)) from None
        if options["json"]:
            self.stdout.write(json.dumps({
                "run": run.pk, "status": run.status, "findings": [f.as_dict() for f in result.findings],
                "resolved": [f.key for f in result.resolved], "actions": run.actions,
                "notes": result.notes}, indent=2))
        else:
            self._summary(run, result)
        if result.findings:
            raise SystemExit(1)

    def _summary(self, run: Any, result: services.CheckResult) -> None:
        out = self.stdout
        out.write(f"reconciliation run {run.pk}: symbols {', '.join(result.symbols) or '-'}; "
                  f"{len(result.snapshot.orders)} orders checked")
        for note in result.notes:
            out.write(f"  note: {note}")
        if not result.findings:
            out.write(f"CLEAN: no findings ({len(result.resolved)} earlier findings resolved by "
                      "Reconciled events)")
            return
        out.write(f"FINDINGS: {len(result.findings)}")
        for finding in result.findings:
            ids = ",".join(finding.order_ids + finding.trade_ids)
            out.write(f"  {finding.kind:22} {finding.symbol:8} {ids}  expected: {finding.expected}"
                      f"  actual: {finding.actual}")
        for action in run.actions:
            state = "fixed" if action["ok"] else "NOT FIXED"
            out.write(f"  {state}: {action['key']}: {action['action']}")
