"""`manage.py ensure_ops_admin`: the local demo's staff superuser `ops` (password: the local demo
password) for the admin console. Only against the local stack (loopback AWS_ENDPOINT_URL), never
in production: a real deployment creates its staff accounts deliberately."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from devstack.provision import DEMO_PASSWORD

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
USERNAME = "ops"


class Command(BaseCommand):
    help = "Create/update the local demo staff superuser `ops` (local stack only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--migrate", action="store_true",
                            help="apply the database migrations first, in this same process "
                                 "(the launcher's set-up: one Django start per region, not two)")

    def handle(self, *args: Any, **options: Any) -> None:
        cfg = settings.TULIP
        endpoint = cfg.aws_endpoint_url
        if cfg.environment == "production" or not endpoint or \
                urlparse(endpoint).hostname not in LOOPBACK_HOSTS:
            raise CommandError("refusing: ensure_ops_admin only runs against the local stack "
                               "(AWS_ENDPOINT_URL on 127.0.0.1), never in production")
        if options["migrate"]:
            call_command("migrate", interactive=False, verbosity=0)
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(username=USERNAME)
        user.is_staff = True
        user.is_superuser = True
        user.is_active = True
        user.set_password(DEMO_PASSWORD)
        user.save()
        self.stdout.write(f"{'created' if created else 'updated'} staff user {USERNAME}")
