"""Forms of the knowledge pages: file upload, skill, search."""

from django import forms


class FileUploadForm(forms.Form):
    file = forms.FileField()


class SkillForm(forms.Form):
    name = forms.CharField(max_length=120, required=False)
    content = forms.CharField(widget=forms.Textarea, required=False)


class SearchForm(forms.Form):
    q = forms.CharField(max_length=2000, required=False, label="Query")
    mode = forms.ChoiceField(
        choices=[("hybrid", "Hybrid"), ("vector", "Vector"), ("keyword", "Keyword")],
        required=False,
    )
