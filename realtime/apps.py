from django.apps import AppConfig


class RealtimeConfig(AppConfig):  # type: ignore[misc]
    name = "realtime"
    default_auto_field = "django.db.models.BigAutoField"
