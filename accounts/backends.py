"""Authentication backends: the login lockout gate, then email-or-handle with a password."""

from axes.backends import AxesStandaloneBackend
from django.contrib.auth.backends import ModelBackend

from .models import User
from .selectors import user_for_login


class LockoutBackend(AxesStandaloneBackend):
    """django-axes' gate: refuses every attempt while the account or the address is locked.

    Every login surface Holdfast has (the sign-in page, the admin, `POST
    /api/v1/auth/tokens/`) passes the request. A caller without one (Django's test client
    `login()`, a shell) has no address to count, so the gate steps aside instead of raising.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


class EmailOrHandleBackend(ModelBackend):
    """`username` is an email address or a handle (with or without `@`).

    Suspended and banned users are refused: `User.is_active` is false for them, which
    `user_can_authenticate` checks, and `get_user` ends their existing sessions too.
    """

    def authenticate(self, request, username=None, password=None, email=None, **kwargs):
        identifier = username if username is not None else email
        if identifier is None or password is None:
            return None
        user = user_for_login(identifier=identifier)
        if user is None:
            User().set_password(password)  # same work as a real check: no timing oracle
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
