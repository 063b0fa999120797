"""Rows behind the pages: `fill(world, n)` gives a workspace n of everything a page lists.

Bulk-created (test and benchmark data only; the pages' own writes go through services),
so 10,000 rows take seconds. Used by tests/<app>/test_pages.py and bench/web.py.
"""

import datetime as dt
import uuid
from dataclasses import dataclass

from django.utils import timezone

from collaboration.models import Comment, EventKind, Message, MessageEvent, Notification, Thread
from deployments.models import (
    Approval,
    Artifact,
    Deployment,
    Preview,
    PreviewVersion,
    Run,
    RunStep,
)
from durability.models import BackupRecord, BackupStatus
from tests.factories import ProjectFactory


@dataclass
class Filled:
    project: object
    thread: object
    preview: object


def fill(world, n: int, *, project=None) -> Filled:
    """n comments, chat messages, notifications, approvals, deployments, runs (with a step),
    artifacts, preview versions and backup records in `world.workspace`."""
    ws, author = world.workspace, world.member
    project = project or ProjectFactory(workspace=ws)
    now = timezone.now()
    tag = uuid.uuid4().hex[:8]
    Comment.objects.bulk_create(
        Comment(workspace=ws, project=project, author=author, body=f"comment {i} @{author.handle}")
        for i in range(n)
    )
    thread = Thread.objects.create(workspace=ws, title=f"bench {tag}", created_by=author)
    ids = [uuid.uuid4() for _ in range(n)]
    MessageEvent.objects.bulk_create(
        MessageEvent(
            thread=thread,
            seq=i + 1,
            kind=EventKind.TEXT,
            message_id=ids[i],
            author=author,
            body=f"message {i}",
        )
        for i in range(n)
    )
    Message.objects.bulk_create(
        Message(
            id=ids[i],
            thread=thread,
            seq=i + 1,
            author=author,
            body=f"message {i}",
            posted_at=now,
            last_event_seq=i + 1,
        )
        for i in range(n)
    )
    Thread.objects.filter(pk=thread.pk).update(last_seq=n)
    thread.last_seq = n
    for user in (world.owner, world.admin, world.member, world.viewer):
        Notification.objects.bulk_create(
            Notification(
                workspace=ws,
                recipient=user,
                actor=author,
                kind="message_mention",
                thread=thread,
                message_id=ids[0] if ids else None,
                excerpt=f"n {i}",
            )
            for i in range(n)
        )
    Approval.objects.bulk_create(
        Approval(
            project=project,
            scope="deploy.production",
            intent_summary=f"ship {i}",
            payload={"environment": "production", "i": i},
            payload_sha256="0" * 64,
            requested_by=author,
            expires_at=now + dt.timedelta(days=1),
        )
        for i in range(n)
    )
    Deployment.objects.bulk_create(
        Deployment(
            project=project,
            environment="preview",
            provider="local",
            status="ready",
            commit_sha="abcdef1",
            created_by=author,
        )
        for _ in range(n)
    )
    runs = Run.objects.bulk_create(
        Run(project=project, kind="build", status="succeeded", created_by=author) for _ in range(n)
    )
    RunStep.objects.bulk_create(
        RunStep(run=run, step_id="s1", name="compile", status="succeeded") for run in runs
    )
    Artifact.objects.bulk_create(
        Artifact(
            project=project,
            kind="report",
            logical_key=f"k{i}",
            version=1,
            blob_path=f"bench/{tag}/{i}",
            sha256="0" * 64,
            size=1,
            created_by=author,
        )
        for i in range(n)
    )
    preview = Preview.objects.create(
        slug=f"pv-{tag}",
        workspace=ws,
        project=project,
        created_by=author,
        active_version=n or None,
    )
    PreviewVersion.objects.bulk_create(
        PreviewVersion(
            preview=preview,
            version=i + 1,
            blob_path=f"bench/{tag}/pv/{i}",
            sha256="0" * 64,
            size=2,
            created_by=author,
        )
        for i in range(n)
    )
    BackupRecord.objects.bulk_create(
        BackupRecord(
            backup_id=f"bench-{tag}-{i}",
            workspace_id_scope=ws.pk,
            workspace_slug=ws.slug,
            status=BackupStatus.SUCCEEDED,
            taken_at=now - dt.timedelta(minutes=i),
        )
        for i in range(n)
    )
    return Filled(project=project, thread=thread, preview=preview)
