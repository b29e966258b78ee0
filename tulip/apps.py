from django.apps import AppConfig


class TulipConfig(AppConfig):
    """The platform as a Django app: it owns the runtime feature-flag overrides (tulip.flags) and
    binds the DynamoDB schema to the configured tables once per process."""

    name = "tulip"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings

        from tulip import schema

        schema.bind(settings.TULIP)
