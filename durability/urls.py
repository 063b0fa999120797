"""Durability pages under /w/<slug>/backups/."""

from django.urls import path

from . import views

W = "w/<slug:slug>/backups/"

urlpatterns = [
    path(W, views.backups, name="backups"),
    path(W + "now/", views.backup_now, name="backup-now"),
    path(W + "restore-point/", views.restore_point, name="restore-point"),
]
