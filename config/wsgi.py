"""WSGI entry point."""

from django.core.wsgi import get_wsgi_application

from config.env import configure  # noqa: E402

configure()
application = get_wsgi_application()
