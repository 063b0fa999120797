"""Serializers of the governance API: the workspace history trail and its audit events."""

from rest_framework import serializers

from common.fields import LabelChoiceField
from governance.models import AuditAction
from governance.selectors import workspace_history_labels


class HistoryFilterInput(serializers.Serializer):
    model = LabelChoiceField(
        workspace_history_labels,
        required=False,
        help_text='Tracked model label, e.g. "workspaces.Project".',
    )
    object_id = serializers.UUIDField(required=False, help_text="Id of one object.")


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


class AuditEventFilterInput(serializers.Serializer):
    action = serializers.ChoiceField(choices=AuditAction.choices, required=False)


class AuditEventOutput(serializers.Serializer):
    id = serializers.UUIDField()
    created_at = serializers.DateTimeField()
    action = serializers.ChoiceField(choices=AuditAction.choices)
    actor = HistoryUserOutput(allow_null=True, help_text="Who acted (null: the scheduler).")
    target_type = serializers.CharField(allow_blank=True, help_text="Model label of the target.")
    target_id = serializers.CharField(allow_blank=True)
    summary = serializers.CharField()
    data = serializers.DictField()  # type: ignore[assignment]  # the AuditEvent field, not Serializer.data
