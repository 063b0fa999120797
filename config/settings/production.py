"""Production settings: refuses to start on an unsafe configuration."""

from django.core.exceptions import ImproperlyConfigured

from .base import *


def check_production_settings(*, debug: bool, secret_key: str, allowed_hosts: list[str]) -> None:
    """Raise ImproperlyConfigured naming the first unsafe setting."""
    if debug:
        raise ImproperlyConfigured("Refusing to start in production: DEBUG is on; set DEBUG=false.")
    if not secret_key or secret_key == DEFAULT_SECRET_KEY:
        raise ImproperlyConfigured(
            "Refusing to start in production: SECRET_KEY is the default; set SECRET_KEY."
        )
    if not allowed_hosts:
        raise ImproperlyConfigured(
            "Refusing to start in production: ALLOWED_HOSTS is empty; set ALLOWED_HOSTS."
        )


check_production_settings(debug=DEBUG, secret_key=SECRET_KEY, allowed_hosts=ALLOWED_HOSTS)

SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# HTTPS only: redirect plain http (behind a proxy that sets X-Forwarded-Proto) and tell
# browsers never to try http again (HSTS, a year, subdomains, preload-ready).
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
