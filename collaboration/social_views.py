"""The social page at /social/: the caller's graph projection, edge forms and discovery.

Reads the cached projection (never raw edge rows) and the discovery cache; writes go
through accounts.graph.
"""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts import graph, selectors
from accounts.models import EdgeType, User
from common.exceptions import ServiceError

from . import discovery


class EdgeForm(forms.Form):
    to = forms.CharField(label="Handle or email", max_length=254)
    type = forms.ChoiceField(choices=EdgeType.choices)


def _people(ids) -> list[User]:
    by_id = {str(u.pk): u for u in User.objects.filter(pk__in=list(ids))}
    return [by_id[i] for i in ids if i in by_id]


@login_required
@require_http_methods(["GET", "POST"])
def social(request):
    form = EdgeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            to = selectors.user_find(identifier=form.cleaned_data["to"])
            if to is None:
                form.add_error("to", "No such user.")
            else:
                try:
                    graph.edge_create(actor=request.user, to=to, type=form.cleaned_data["type"])
                except ServiceError as error:
                    form.add_error("to" if error.field == "to" else None, error.message)
                else:
                    messages.success(request, f"Done: {form.cleaned_data['type']} @{to.handle}.")
                    return redirect("social")
    projection = graph.projection_get(request.user.pk)
    lists = ["friends", "requests_received", "requests_sent", "followers", "following", "blocks"]
    people = {name: _people(projection[name]) for name in lists}
    context = {
        "form": form,
        "people": people,
        "counts": projection["counts"],
        "suggestions": discovery.discovery_get(request.user)["results"],
    }
    return render(request, "collaboration/social.html", context, status=status)


@login_required
@require_POST
def social_remove(request, type, user_id):
    try:
        graph.edge_delete(actor=request.user, to_id=user_id, type=type)
    except ServiceError as error:
        messages.error(request, error.message)
    return redirect("social")
