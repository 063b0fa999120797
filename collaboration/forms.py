"""Forms of the collaboration pages: they parse input; the services decide."""

from django import forms

MAX_BODY = 20_000
PLACEHOLDER = "Write a message, @mention someone"


class CommentForm(forms.Form):
    body = forms.CharField(
        max_length=MAX_BODY, label="Comment", widget=forms.Textarea(attrs={"rows": 3})
    )
    parent = forms.UUIDField(required=False, widget=forms.HiddenInput)


class CommentEditForm(forms.Form):
    body = forms.CharField(max_length=MAX_BODY, label="Edit comment", widget=forms.Textarea)


class ThreadForm(forms.Form):
    title = forms.CharField(max_length=200, label="Thread title")


class MessageForm(forms.Form):
    body = forms.CharField(
        max_length=MAX_BODY,
        label="Message",
        widget=forms.Textarea(
            attrs={"rows": 2, "placeholder": "Write a message, @mention someone"}
        ),
    )
    client_id = forms.CharField(max_length=64, required=False, widget=forms.HiddenInput)


class MessageEditForm(forms.Form):
    body = forms.CharField(max_length=MAX_BODY, label="Edit message", widget=forms.Textarea)


class ReactionForm(forms.Form):
    emoji = forms.CharField(max_length=32)
