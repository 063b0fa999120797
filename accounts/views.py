"""Account pages: sign-in and out, sign-up, passwords, and the invitation link."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from common.exceptions import ServiceError

from . import selectors, services
from .forms import LoginForm, ResetForm, SignupForm
from .models import InvitationStatus

BACKEND = "accounts.backends.EmailOrHandleBackend"


def _next_url(request) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return ""


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "signup_open": settings.SIGNUP_OPEN}


class PasswordChangeView(auth_views.PasswordChangeView):
    success_url = reverse_lazy("accounts:password_change_done")


class PasswordResetView(auth_views.PasswordResetView):
    form_class = ResetForm
    success_url = reverse_lazy("accounts:password_reset_done")

    def form_valid(self, form):
        # Links are built from SITE_URL, never from the request's Host header.
        self.extra_email_context = {"site_url": settings.SITE_URL}
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    success_url = reverse_lazy("accounts:password_reset_complete")


@require_http_methods(["GET", "POST"])
def signup(request):
    """Open sign-up (SIGNUP_OPEN); the account is made by `services.user_create`."""
    if not settings.SIGNUP_OPEN:
        return render(request, "accounts/signup_closed.html", status=404)
    next_url = _next_url(request)
    if request.user.is_authenticated:
        return redirect(next_url or settings.LOGIN_REDIRECT_URL)
    form = SignupForm(request.POST or None, initial={"email": request.GET.get("email", "")})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = services.user_create(
                email=data["email"],
                handle=data["handle"],
                password=data["password1"],
                display_name=data["display_name"],
            )
        except ServiceError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            login(request, user, backend=BACKEND)
            messages.success(request, f"Welcome, @{user.handle}: your account is ready.")
            return redirect(next_url or settings.LOGIN_REDIRECT_URL)
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/signup.html", {"form": form, "next": next_url}, status=status)


@require_http_methods(["GET", "POST"])
def invitation(request, token: str):
    """The link from an invitation email: shows the team and role; POST accepts it."""
    found = selectors.invitation_for_token(token=token)
    if found is None:
        raise Http404("This invitation link is not valid.")
    here = reverse("accounts:invitation", args=[token])
    context = {
        "invitation": found,
        "token": token,
        "here": here,
        "signup_open": settings.SIGNUP_OPEN,
        "email_matches": request.user.is_authenticated
        and request.user.email.lower() == found.email.lower(),
        "is_pending": found.status == InvitationStatus.PENDING,
        "error": None,
    }
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect(f"{settings.LOGIN_URL}?next={here}")
        try:
            membership = services.invitation_accept(token=token, user=request.user)
        except ServiceError as error:
            found.refresh_from_db()
            context.update(error=error.message, invitation=found, is_pending=False)
            return render(request, "accounts/invitation.html", context, status=error.status_code)
        messages.success(
            request, f"You joined {membership.team.name} as {membership.get_role_display()}."
        )
        return redirect(settings.LOGIN_REDIRECT_URL)
    return render(request, "accounts/invitation.html", context)
