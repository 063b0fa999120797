"""The restore-point form: it parses input; `durability.services.restore_point` decides."""

from django import forms


class RestorePointForm(forms.Form):
    at = forms.DateTimeField(
        label="Point in time (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local", "step": "1"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"],
    )
    model = forms.CharField(
        required=False,
        max_length=200,
        label="Model (optional)",
        help_text="e.g. collaboration.comment; empty restores every tracked object.",
    )
    object_id = forms.UUIDField(required=False, label="Object id (optional)")

    def clean(self):
        data = super().clean() or {}
        if data.get("object_id") and not data.get("model"):
            self.add_error("model", "Name the model of the object.")
        return data
