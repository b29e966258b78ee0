"""`manage.py devtoken USERNAME`: a fresh access token from the *local* Cognito pool on stdout."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from devstack import provision
from tulip import aws

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class Command(BaseCommand):
    help = "Print a valid access token for USERNAME from the local stack's user pool (creating "
    help += "the user if missing). Refuses to run against real AWS."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--group", action="append", choices=provision.GROUPS,
                            help="group(s) for a new user (default: traders)")

    def handle(self, *args: Any, **options: Any) -> None:
        cfg = settings.TULIP
        endpoint = cfg.aws_endpoint_url
        if not endpoint or urlparse(endpoint).hostname not in LOOPBACK_HOSTS:
            raise CommandError("refusing: devtoken only talks to the local stack "
                               "(AWS_ENDPOINT_URL must point at 127.0.0.1); is `make run` running?")
        if not cfg.cognito_user_pool_id or not cfg.cognito_app_client_id:
            raise CommandError("no local user pool configured: start the stack with `make run`")
        username = options["username"]
        groups = tuple(options["group"] or provision.DEMO_USERS.get(username, ("traders",)))
        cognito = aws.client("cognito-idp", cfg)
        try:
            provision.ensure_user(cognito, cfg.cognito_user_pool_id, username, groups)
            token = provision.access_token(cognito, cfg.cognito_user_pool_id,
                                           cfg.cognito_app_client_id, username)
        except cognito.exceptions.ClientError as exc:
            raise CommandError(f"local Cognito refused: {exc.response['Error']['Code']}") from None
        except Exception as exc:
            raise CommandError(f"cannot reach the local stack at {endpoint}: "
                               f"{type(exc).__name__}") from None
        self.stdout.write(token)
