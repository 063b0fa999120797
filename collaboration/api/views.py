"""Collaboration API under /api/v1/workspaces/{slug}/: threads, messages, events,
comments, presence and notifications.

Every view is a WorkspaceScopedViewSet (404 non-member, 401 anonymous, 403 below
the needed role). Viewers read everything, send presence heartbeats and mark
their own notifications read; every other write needs member or above. Views
validate input and call one service.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from accounts.models import Role
from common.exceptions import ValidationFailed
from common.fields import query_data
from workspaces.models import Project
from workspaces.viewsets import WorkspaceScopedViewSet

from .. import private, selectors, services
from ..presence import ttl_seconds
from . import serializers as s


class CollabViewSet(WorkspaceScopedViewSet):
    def _query(self, serializer_class):
        """The query string validated by `serializer_class` (400 with field errors)."""
        return self.validated(serializer_class, data=query_data(self.request))


# --- threads ----------------------------------------------------------------------------


class ThreadViewSet(CollabViewSet):
    """`threads/`: the workspace's chat threads."""

    serializer_class = s.ThreadOutput
    lookup_url_kwarg = "thread_id"

    def scoped_queryset(self, workspace):
        params = s.ThreadFilterInput(data=query_data(self.request))
        params.is_valid(raise_exception=True)
        project_id = params.validated_data.get("project")
        return selectors.thread_list(
            workspace=workspace, project_id=project_id, user=self.request.user
        )

    @extend_schema(parameters=[s.ThreadFilterInput])
    def list(self, request, **kwargs):
        return self.paginated(self.get_queryset(), serializer=s.ThreadOutput)

    @extend_schema(request=s.ThreadInput, responses={201: s.ThreadOutput})
    def create(self, request, **kwargs):
        data = self.validated(s.ThreadInput)
        project = None
        if data["project"] is not None:
            project = Project.objects.filter(workspace=self.workspace, pk=data["project"]).first()
            if project is None:
                raise ValidationFailed("No project with this id here.", field="project")
        if data.get("participants"):
            thread = private.private_thread_create(
                workspace=self.workspace,
                title=data["title"],
                project=project,
                actor=request.user,
                participants=data["participants"],
            )
        else:
            thread = services.thread_create(
                workspace=self.workspace, title=data["title"], project=project, actor=request.user
            )
        return Response(s.ThreadOutput(thread).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request, thread_id=None, **kwargs):
        return Response(s.ThreadOutput(self.get_object()).data)

    @extend_schema(request=s.ThreadUpdateInput, responses={200: s.ThreadOutput})
    def partial_update(self, request, thread_id=None, **kwargs):
        thread = self.get_object()
        data = self.validated(s.ThreadUpdateInput, partial=True)
        if "title" in data:  # a PATCH without fields changes nothing
            thread = services.thread_update(thread=thread, title=data["title"], actor=request.user)
        return Response(s.ThreadOutput(thread).data)


class ThreadChildViewSet(CollabViewSet):
    """Base for routes under `threads/{thread_id}/`: resolves the thread in the workspace."""

    def resolve_parents(self) -> None:
        self.thread = selectors.thread_get(
            workspace=self.workspace, thread_id=self.kwargs["thread_id"], user=self.request.user
        )


class MessageViewSet(ThreadChildViewSet):
    """`threads/{id}/messages/`: the current messages (the materialized view)."""

    serializer_class = s.MessageOutput
    lookup_url_kwarg = "message_id"
    pagination_class = None  # pages by seq (`before_seq`, `limit`), not by page number

    def scoped_queryset(self, workspace):
        return self.thread.messages.select_related("author")

    @extend_schema(
        parameters=[
            s.MessageListQuery,
        ],
        responses={200: s.MessagePageOutput},
    )
    def list(self, request, **kwargs):
        """The newest `limit` messages, newest last; page back with `?before_seq=`."""
        query = self._query(s.MessageListQuery)
        page = selectors.message_rows_page(
            thread=self.thread, before_seq=query.get("before_seq"), limit=query["limit"]
        )
        first = page.messages[0].seq if page.messages else None
        url = request.build_absolute_uri()
        previous = None
        if query.get("before_seq") is not None:
            newer, newer_before = selectors.message_newer_page_before_seq(
                thread=self.thread, before_seq=query["before_seq"], limit=query["limit"]
            )
            if newer:
                previous = (
                    replace_query_param(url, "before_seq", newer_before)
                    if newer_before is not None
                    else remove_query_param(url, "before_seq")
                )
        return Response(
            {
                "count": selectors.message_count(thread=self.thread),
                "next": replace_query_param(url, "before_seq", first) if page.has_more else None,
                "previous": previous,
                "results": s.message_rows_data(page.messages),
                "has_more": page.has_more,
                "next_before_seq": first if page.has_more else None,
            }
        )

    @extend_schema(request=s.MessageInput, responses={201: s.MessageOutput, 200: s.MessageOutput})
    def create(self, request, **kwargs):
        data = self.validated(s.MessageInput)
        message, created = services.message_post(
            thread=self.thread, body=data["body"], client_id=data["client_id"], actor=request.user
        )
        message = selectors.message_get(thread=self.thread, message_id=message.pk)
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(s.MessageOutput(message).data, status=code)

    def retrieve(self, request, message_id=None, **kwargs):
        return Response(s.MessageOutput(self.get_object()).data)

    @extend_schema(responses={200: s.MessageOutput})
    def destroy(self, request, message_id=None, **kwargs):
        """Records a delete event (author or admin); the text stays in the event log."""
        services.message_delete(thread=self.thread, message_id=message_id, actor=request.user)
        message = selectors.message_get(thread=self.thread, message_id=message_id)
        return Response(s.MessageOutput(message).data)

    @extend_schema(request=s.MessageEditInput, responses={200: s.MessageOutput})
    def edit(self, request, message_id=None, **kwargs):
        """Records an edit event (author only)."""
        data = self.validated(s.MessageEditInput)
        services.message_edit(
            thread=self.thread, message_id=message_id, body=data["body"], actor=request.user
        )
        message = selectors.message_get(thread=self.thread, message_id=message_id)
        return Response(s.MessageOutput(message).data)


class ReactionViewSet(ThreadChildViewSet):
    """`threads/{id}/messages/{message_id}/reactions/`: add (POST) or take back (DELETE)."""

    serializer_class = s.MessageOutput

    def scoped_queryset(self, workspace):
        return self.thread.messages.all()

    @extend_schema(request=s.ReactionInput, responses={200: s.MessageOutput})
    def create(self, request, message_id=None, **kwargs):
        data = self.validated(s.ReactionInput)
        return self._react(message_id, data["emoji"], removed=False)

    @extend_schema(
        parameters=[s.ReactionInput],
        responses={200: s.MessageOutput},
    )
    def destroy(self, request, message_id=None, **kwargs):
        data = self._query(s.ReactionInput)
        return self._react(message_id, data["emoji"], removed=True)

    def _react(self, message_id, emoji, *, removed):
        services.message_react(
            thread=self.thread,
            message_id=message_id,
            emoji=emoji,
            removed=removed,
            actor=self.request.user,
        )
        message = selectors.message_get(thread=self.thread, message_id=message_id)
        return Response(s.MessageOutput(message).data)


class EventViewSet(ThreadChildViewSet):
    """`threads/{id}/events/?after_seq=N`: the event log in seq order, for sync and replay."""

    serializer_class = s.EventOutput
    pagination_class = None  # pages by seq (`after_seq`, `limit`), not by page number

    def scoped_queryset(self, workspace):
        return self.thread.events.all()

    @extend_schema(
        parameters=[
            s.EventListQuery,
        ],
        responses={200: s.EventPageOutput},
    )
    def list(self, request, **kwargs):
        query = self._query(s.EventListQuery)
        events = selectors.event_list(
            thread=self.thread, after_seq=query["after_seq"], limit=query["limit"] + 1
        )
        has_more = len(events) > query["limit"]
        events = events[: query["limit"]]
        next_after_seq = events[-1].seq if events else query["after_seq"]
        url = request.build_absolute_uri()
        after_seq = query["after_seq"]
        # The seq is gapless, so the thread's last_seq is its event count and the page
        # before this one starts `limit` seqs back: neither costs a query.
        previous = None
        if after_seq > 0:
            previous = replace_query_param(url, "after_seq", max(0, after_seq - query["limit"]))
        return Response(
            {
                "count": self.thread.last_seq,
                "next": replace_query_param(url, "after_seq", next_after_seq) if has_more else None,
                "previous": previous,
                "results": s.EventOutput(events, many=True).data,
                "has_more": has_more,
                "next_after_seq": next_after_seq,
            }
        )


# --- comments ---------------------------------------------------------------------------


class CommentViewSet(CollabViewSet):
    """`comments/`: comments on the workspace's projects (`?project=` filters)."""

    serializer_class = s.CommentOutput

    def scoped_queryset(self, workspace):
        return selectors.comment_list(workspace=workspace)

    @extend_schema(parameters=[s.CommentListQuery])
    def list(self, request, **kwargs):
        query = self._query(s.CommentListQuery)
        qs = selectors.comment_list(workspace=self.workspace, project_id=query.get("project"))
        return self.paginated(qs, serializer=s.CommentOutput)

    @extend_schema(request=s.CommentInput, responses={201: s.CommentOutput})
    def create(self, request, **kwargs):
        data = self.validated(s.CommentInput)
        project = Project.objects.filter(workspace=self.workspace, pk=data["project"]).first()
        if project is None:
            raise ValidationFailed("No project with this id here.", field="project")
        parent = None
        if data["parent"] is not None:
            parent = selectors.comment_list(workspace=self.workspace).filter(pk=data["parent"])
            parent = parent.first()
            if parent is None:
                raise ValidationFailed("No comment with this id here.", field="parent")
        comment = services.comment_create(
            workspace=self.workspace,
            project=project,
            parent=parent,
            body=data["body"],
            actor=request.user,
        )
        return Response(s.CommentOutput(comment).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request, pk=None, **kwargs):
        comment = self.get_object()
        return Response(s.CommentOutput(comment).data)

    @extend_schema(request=s.CommentUpdateInput, responses={200: s.CommentOutput})
    def partial_update(self, request, pk=None, **kwargs):
        comment = self.get_object()
        data = self.validated(s.CommentUpdateInput)
        comment = services.comment_update(comment=comment, body=data["body"], actor=request.user)
        return Response(s.CommentOutput(comment).data)

    @extend_schema(responses={200: s.CommentOutput})
    def destroy(self, request, pk=None, **kwargs):
        """Soft delete (author or admin): the text is kept in the comment's history."""
        comment = self.get_object()
        comment = services.comment_delete(comment=comment, actor=request.user)
        return Response(s.CommentOutput(comment).data)


# --- presence ---------------------------------------------------------------------------


class PresenceViewSet(CollabViewSet):
    """`presence/`: GET who is here now; POST a heartbeat (viewers too)."""

    serializer_class = s.PresenceOutput
    action_roles = {"heartbeat": Role.VIEWER}
    pagination_class = None

    def scoped_queryset(self, workspace):
        return type(workspace).objects.none()

    @extend_schema(responses={200: s.PresenceOutput(many=True)})
    def list(self, request, **kwargs):
        members = selectors.presence_list(workspace=self.workspace, viewer=request.user)
        return Response(s.PresenceOutput(members, many=True).data)

    @extend_schema(request=s.PresenceInput, responses={200: s.PresenceHeartbeatOutput})
    def heartbeat(self, request, **kwargs):
        data = self.validated(s.PresenceInput)
        entry = services.presence_heartbeat(
            workspace=self.workspace,
            actor=request.user,
            status=data["status"],
            activity=data["activity"],
        )
        return Response(
            {
                "status": data["status"],
                "activity": data["activity"],
                "expires_at": s._ts(entry.expires_at) if entry else None,
                "ttl_seconds": ttl_seconds(),
            }
        )


# --- notifications ----------------------------------------------------------------------


class NotificationViewSet(CollabViewSet):
    """`notifications/`: the caller's notifications in this workspace."""

    serializer_class = s.NotificationOutput
    # Read marks are the caller's own state, not workspace data: viewers may set them.
    action_roles = {"mark_read": Role.VIEWER, "mark_all_read": Role.VIEWER}

    def scoped_queryset(self, workspace):
        return selectors.notification_list(workspace=workspace, user=self.request.user)

    @extend_schema(parameters=[s.NotificationListQuery])
    def list(self, request, **kwargs):
        query = self._query(s.NotificationListQuery)
        qs = selectors.notification_list(
            workspace=self.workspace, user=request.user, unread=query.get("unread")
        )
        return self.paginated(qs, serializer=s.NotificationOutput)

    @extend_schema(responses={200: s.UnreadCountOutput})
    def unread_count(self, request, **kwargs):
        count = selectors.notification_unread_count(workspace=self.workspace, user=request.user)
        return Response({"unread": count})

    @extend_schema(request=None, responses={200: s.NotificationOutput})
    def mark_read(self, request, pk=None, **kwargs):
        notification = selectors.notification_get(
            workspace=self.workspace, user=request.user, notification_id=pk
        )
        notification = services.notification_mark_read(
            notification=notification, actor=request.user
        )
        return Response(s.NotificationOutput(notification).data)

    @extend_schema(request=None, responses={200: s.MarkedReadOutput})
    def mark_all_read(self, request, **kwargs):
        marked = services.notifications_mark_all_read(workspace=self.workspace, actor=request.user)
        return Response({"marked": marked})
