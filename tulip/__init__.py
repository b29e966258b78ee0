"""TulipBroker composition root: settings, URLs, ASGI and Celery apps, shared platform code."""
