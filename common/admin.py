"""Admin helpers shared by every app."""

from simple_history.admin import SimpleHistoryAdmin


class ReadOnlyAdminMixin:
    """Ops read these in the admin; every write goes through the app's services (the API,
    admin actions that call a service, or management commands), never a bare save."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class HistoryAdmin(SimpleHistoryAdmin):
    """Admin for history-tracked models: history view and revert come from simple-history."""

    list_per_page = 50
    show_full_result_count = False


class RevertOnlyAdminMixin(ReadOnlyAdminMixin):
    """Read-only, except that staff allowed to change the model may revert an object to one
    of its historical versions (simple-history's revert, itself recorded in history with
    the staff user): the one admin write on these models that is not a service call."""

    def has_change_history_permission(self, request, obj=None):
        return super(ReadOnlyAdminMixin, self).has_change_permission(request, obj)  # type: ignore[misc]  # the ModelAdmin after the mixin in the MRO
