"""Knowledge routes under /api/v1/."""

from django.urls import path

from .views import CitationViewSet, RecallAuditViewSet, SearchViewSet

app_name = "vectors-api"

P = "workspaces/<slug:workspace_slug>/projects/<uuid:project_id>/"

urlpatterns = [
    path(
        P + "search/",
        SearchViewSet.as_view({"get": "search_get", "post": "search"}),
        name="project-search",
    ),
    path(
        P + "citations/",
        CitationViewSet.as_view({"get": "list", "post": "create"}),
        name="citations",
    ),
    path(
        P + "citations/<uuid:pk>/",
        CitationViewSet.as_view({"get": "retrieve", "delete": "destroy"}),
        name="citation",
    ),
    path(P + "recall-audits/", RecallAuditViewSet.as_view({"get": "list"}), name="recall-audits"),
]
