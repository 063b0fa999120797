"""Admin helpers shared by every app."""

from simple_history.admin import SimpleHistoryAdmin


class HistoryAdmin(SimpleHistoryAdmin):
    """Admin for history-tracked models: history view and revert come from simple-history."""

    list_per_page = 50
    show_full_result_count = False
