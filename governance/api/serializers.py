"""Serializers of the governance API: the workspace history trail."""

from rest_framework import serializers

from governance.selectors import workspace_history_labels


class HistoryFilterInput(serializers.Serializer):
    model = serializers.CharField(
        required=False, help_text='Tracked model label, e.g. "workspaces.Project".'
    )
    object_id = serializers.UUIDField(required=False, help_text="Id of one object.")

    def validate_model(self, value: str) -> str:
        labels = {label.lower(): label for label in workspace_history_labels()}
        if value.lower() not in labels:
            raise serializers.ValidationError(
                f"Unknown model; one of: {', '.join(sorted(labels.values()))}."
            )
        return labels[value.lower()]


class HistoryUserOutput(serializers.Serializer):
    id = serializers.UUIDField()
    handle = serializers.CharField()


class HistoryEntryOutput(serializers.Serializer):
    model = serializers.CharField(help_text="Label of the changed model.")
    history_model = serializers.CharField(help_text="Label of the history table.")
    object_id = serializers.CharField()
    history_id = serializers.CharField()
    history_date = serializers.DateTimeField()
    history_type = serializers.ChoiceField(
        choices=[("+", "created"), ("~", "changed"), ("-", "deleted")]
    )
    change_reason = serializers.CharField(allow_blank=True)
    user = HistoryUserOutput(allow_null=True, help_text="Who made the change (null: system).")
    changes = serializers.DictField(
        child=serializers.DictField(), help_text='{field: {"from": old, "to": new}}'
    )
