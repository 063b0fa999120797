"""Account forms: sign-in (email or handle), sign-up, and the password-reset lookup."""

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm

from .models import User, UserStatus, handle_validator


class LoginForm(AuthenticationForm):
    """Django's sign-in form; `username` takes an email address or a handle."""

    username = forms.CharField(
        label="Email or handle",
        max_length=254,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That email or handle and password do not match an active account.",
    }


class SignupForm(forms.Form):
    """Open sign-up. The view hands the cleaned data to `accounts.services.user_create`."""

    email = forms.EmailField(
        label="Email", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    handle = forms.CharField(
        label="Handle",
        max_length=39,
        validators=[handle_validator],
        help_text="2–39 lowercase letters, digits, '-' or '_'. It cannot change later.",
        widget=forms.TextInput(attrs={"autocomplete": "username"}),
    )
    display_name = forms.CharField(label="Display name", max_length=150, required=False)
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()

    def clean_handle(self) -> str:
        return self.cleaned_data["handle"].strip().lower()

    def clean(self):
        data = super().clean()
        first, second = data.get("password1"), data.get("password2")
        if first and second and first != second:
            self.add_error("password2", "The two passwords differ.")
        elif first:
            probe = User(email=data.get("email", ""), handle=data.get("handle", ""))
            try:
                password_validation.validate_password(first, probe)
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return data


class ResetForm(PasswordResetForm):
    """Password reset by email; only active users with a usable password get a link.

    Django's own lookup filters on an `is_active` column, which Holdfast's User derives
    from `status` instead.
    """

    email = forms.EmailField(
        label="Email", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )

    def get_users(self, email):
        users = User.objects.filter(email__iexact=email.strip(), status=UserStatus.ACTIVE)
        return (user for user in users if user.has_usable_password())
