"""Test settings: the same environment switches, fast hashing, eager-free Celery."""

import os

from .base import *

DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    DATABASES["default"]["CONN_MAX_AGE"] = 0
CACHES = {"default": {**CACHES["default"], "KEY_PREFIX": f"holdfast-test-{os.getpid()}"}}
