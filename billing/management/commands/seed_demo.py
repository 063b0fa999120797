"""Idempotent demo data: a team with an entitlement and AI credits, two users, a workspace
and two projects."""

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Membership, Role, Team, User
from accounts.services import membership_add, team_create, user_create
from billing.models import Entitlement, Plan
from billing.services import credits_grant, entitlement_grant, plan_ensure_defaults
from workspaces.models import Project, Workspace
from workspaces.services import project_create, workspace_create

DEMO_PASSWORD = "holdfast-demo"  # noqa: S105  (documented demo login)
DEMO_CREDITS = 5_000
DEMO_USERS = [
    ("ada@holdfast.local", "ada", "Ada Lovelace", True),
    ("grace@holdfast.local", "grace", "Grace Hopper", False),
]


class Command(BaseCommand):
    help = "Create the demo team, users, workspace and projects (safe to run again)."

    @transaction.atomic
    def handle(self, *args, **options):
        users = []
        for email, handle, name, staff in DEMO_USERS:
            user = User.objects.filter(email=email).first()
            if user is None:
                user = user_create(
                    email=email,
                    handle=handle,
                    password=DEMO_PASSWORD,
                    display_name=name,
                    is_staff=staff,
                    is_superuser=staff,
                )
            users.append(user)
        ada, grace = users
        team = Team.objects.filter(slug="demo").first() or team_create(
            name="Demo team", slug="demo", actor=ada
        )
        if not Membership.objects.filter(team=team, user=grace).exists():
            membership_add(team=team, user=grace, role=Role.MEMBER, actor=ada)
        plan_ensure_defaults(actor=ada)
        if not Entitlement.objects.filter(team=team).exists():
            entitlement_grant(
                team=team,
                plan=Plan.objects.get(code="team"),
                actor=ada,
                note="demo data: the Team plan",
            )
        credits_grant(
            team=team,
            amount=DEMO_CREDITS,
            idempotency_key="demo:initial-grant",
            actor=ada,
            note="demo data: initial AI credits",
        )
        workspace = Workspace.objects.filter(slug="demo").first() or workspace_create(
            team=team, name="Demo workspace", slug="demo", actor=ada
        )
        for slug, name in (("website", "Website"), ("handbook", "Handbook")):
            if not Project.objects.filter(workspace=workspace, slug=slug).exists():
                project_create(workspace=workspace, name=name, slug=slug, actor=ada)
        self.stdout.write(
            f"Demo data ready: log in as ada@holdfast.local or grace@holdfast.local "
            f"with password {DEMO_PASSWORD}."
        )
