"""Moderation pages: the queue at /moderation/ and a risk profile at /moderation/risk/<id>/.

Holders of the `moderate` capability only (403 for everyone else, signed-out → login).
Every action goes through accounts.moderation; opening a risk profile is an audited read.
"""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from common.exceptions import ServiceError

from . import moderation, selectors
from .models import CapabilityName, ModerationType, User


class ModerationActionForm(forms.Form):
    user = forms.CharField(label="User (handle, email or id)", max_length=254)
    type = forms.ChoiceField(choices=ModerationType.choices)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=5000)
    reversible = forms.BooleanField(required=False, initial=True)


def _moderator(request) -> None:
    if not selectors.capability_has(user=request.user, capability=CapabilityName.MODERATE):
        raise PermissionDenied("This needs the moderate capability.")


@login_required
@require_http_methods(["GET", "POST"])
def queue(request):
    _moderator(request)
    form = ModerationActionForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            target = selectors.user_find(identifier=data["user"])
            if target is None:
                form.add_error("user", "No user with this id, email or handle.")
            else:
                try:
                    moderation.moderation_action_create(
                        actor=request.user,
                        user=target,
                        type=data["type"],
                        reason=data["reason"],
                        reversible=data["reversible"],
                    )
                except ServiceError as error:
                    form.add_error(
                        error.field if error.field in form.fields else None, error.message
                    )
                else:
                    messages.success(request, f"{data['type']} recorded for @{target.handle}.")
                    return redirect("accounts:moderation")
    context = {"form": form, **moderation.moderation_queue(actor=request.user)}
    return render(request, "accounts/moderation.html", context, status=status)


@login_required
@require_http_methods(["GET"])
def risk_profile(request, user_id):
    _moderator(request)
    target = User.objects.filter(pk=user_id).first()
    if target is None:
        raise Http404("No such user.")
    try:
        profile = moderation.risk_profile_read(actor=request.user, user=target, purpose="page")
        error = None
    except ServiceError as exc:
        if exc.status_code == 404:
            raise Http404(exc.message) from None
        profile, error = None, exc.message
    return render(
        request,
        "accounts/risk_profile.html",
        {"target": target, "profile": profile, "error": error},
        status=200 if error is None else 503,
    )
