"""ASGI entry point."""

from django.core.asgi import get_asgi_application

from config.env import configure  # noqa: E402

configure()
application = get_asgi_application()
