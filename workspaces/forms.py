"""Forms of the workspace pages: they parse input; the services decide."""

from django import forms

from accounts.models import Role


class ProjectForm(forms.Form):
    name = forms.CharField(max_length=120)
    slug = forms.SlugField(max_length=64)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class InvitationForm(forms.Form):
    email = forms.EmailField(label="Email address")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER, label="Role")


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, initial="default", label="Token name")
