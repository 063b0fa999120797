"""Forms of the shipping-pipeline pages: they parse input; the services decide."""

from django import forms


class DecisionForm(forms.Form):
    note = forms.CharField(max_length=500, required=False, label="Note")


class RollbackForm(forms.Form):
    version = forms.IntegerField(min_value=1)


class RunForm(forms.Form):
    kind = forms.CharField(max_length=64, label="Kind", help_text="e.g. build, test, deploy")


class PreviewForm(forms.Form):
    slug = forms.SlugField(max_length=64, label="Slug")
    visibility = forms.ChoiceField(label="Visibility", choices=())

    def __init__(self, *args, **kwargs):
        from .models import PreviewVisibility

        super().__init__(*args, **kwargs)
        self.fields["visibility"].choices = PreviewVisibility.choices
        self.fields["visibility"].initial = PreviewVisibility.TEAM


class PreviewVersionForm(forms.Form):
    """A new version's content: any JSON (`{"html": "…"}` is served as a page)."""

    content = forms.JSONField(label="Content (JSON)", widget=forms.Textarea(attrs={"rows": 3}))
