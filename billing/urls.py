"""Billing pages."""

from django.urls import path

from . import views

app_name = "billing"

urlpatterns = [
    path("teams/<slug:slug>/billing/", views.team_billing, name="team-billing"),
]
