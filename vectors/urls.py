"""Knowledge pages under `/w/<slug>/p/<project_slug>/`."""

from django.urls import path

from . import views

P = "w/<slug:slug>/p/<slug:project_slug>/"

urlpatterns = [
    path(P + "files/", views.file_upload, name="project-file-upload"),
    path(P + "files/<uuid:file_id>/", views.file_detail, name="project-file"),
    path(P + "skills/", views.skill_create, name="project-skill-create"),
    path(P + "skills/<uuid:skill_id>/", views.skill_update, name="project-skill-update"),
    path(P + "skills/<uuid:skill_id>/delete/", views.skill_delete, name="project-skill-delete"),
    path(P + "search/", views.search_page, name="project-search"),
]
