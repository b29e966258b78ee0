"""The local AWS stand-in as a Django app: it only carries the local-only management commands
(`manage.py devtoken`, `manage.py ensure_ops_admin`). tulip/settings.py installs it outside
production only; no app and no tulip module imports it (an import-linter contract in
pyproject.toml). See docs/devstack.md."""

from django.apps import AppConfig


class DevstackConfig(AppConfig):
    name = "devstack"
    verbose_name = "Local AWS stand-in (development and tests only)"
