"""Forms of the knowledge pages: file upload, skill, search."""

from django import forms


class FileUploadForm(forms.Form):
    file = forms.FileField()


class SkillForm(forms.Form):
    name = forms.CharField(max_length=120, required=False)
    content = forms.CharField(widget=forms.Textarea, required=False)


class SkillEditForm(forms.Form):
    """Edit one skill; `skill_id` says which row of the Files tab re-shows it on error."""

    name = forms.CharField(max_length=120, required=False)
    description = forms.CharField(widget=forms.Textarea, required=False)
    content = forms.CharField(widget=forms.Textarea, required=False)

    def __init__(self, *args, skill_id=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.skill_id = skill_id


class SearchForm(forms.Form):
    q = forms.CharField(max_length=2000, required=False, label="Query")
    mode = forms.ChoiceField(
        choices=[("hybrid", "Hybrid"), ("vector", "Vector"), ("keyword", "Keyword")],
        required=False,
    )
    # "chunks" (files), "artifacts", or "repo:<repo id>" (code of one repository)
    ns = forms.ChoiceField(choices=[], required=False, label="Search in")

    def __init__(self, *args, repos=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["ns"].choices = [
            ("chunks", "Files"),
            ("artifacts", "Artifacts"),
            *((f"repo:{r.repo_id}", f"Code: {r.label}") for r in repos),
        ]
