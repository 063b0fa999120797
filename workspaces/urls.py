"""Workspace pages: `/`, `/w/<slug>/`, the project page, history and settings."""

from django.urls import path

from . import views

W = "w/<slug:slug>/"

urlpatterns = [
    path("", views.home, name="home"),
    path("workspaces/switcher/", views.workspace_switcher, name="workspace-switcher"),
    path(W, views.workspace_detail, name="workspace"),
    path(W + "panels/<slug:name>/", views.workspace_panel, name="workspace-panel"),
    path(W + "p/<slug:project_slug>/", views.project_detail, name="project"),
    path(W + "history/", views.history, name="workspace-history"),
    path(W + "settings/", views.settings_page, name="workspace-settings"),
    path(W + "settings/members/<uuid:membership_id>/role/", views.member_role, name="member-role"),
    path(
        W + "settings/members/<uuid:membership_id>/remove/",
        views.member_remove,
        name="member-remove",
    ),
    path(W + "settings/invitations/", views.invitation_create, name="invitation-create"),
    path(
        W + "settings/invitations/<uuid:invitation_id>/revoke/",
        views.invitation_revoke,
        name="invitation-revoke",
    ),
    path(W + "settings/tokens/", views.token_create, name="token-create"),
    path(W + "settings/tokens/<uuid:token_id>/revoke/", views.token_revoke, name="token-revoke"),
]
