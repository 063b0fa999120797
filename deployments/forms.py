"""Forms of the shipping-pipeline pages: they parse input; the services decide."""

from django import forms


class DecisionForm(forms.Form):
    note = forms.CharField(max_length=500, required=False, label="Note")


class RollbackForm(forms.Form):
    version = forms.IntegerField(min_value=1)
