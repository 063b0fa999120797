"""Collaboration pages: chat threads (live via htmx polling on `after_seq`), comments on
the project page, notifications and the header badge, presence.

Every view is a `workspace_page`; it parses input, calls one service or selector, and
renders the full page or, for htmx requests, the partial that changed.
"""

import uuid

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import Role
from common.exceptions import ServiceError
from workspaces.pages import form_error, page_context, paginate, render_items, workspace_page
from workspaces.views import project_get_by_slug, project_response

from . import selectors, services
from .forms import (
    CommentEditForm,
    CommentForm,
    MessageEditForm,
    MessageForm,
    ReactionForm,
    ThreadForm,
)
from .presence import PresenceActivity, PresenceStatus

MESSAGES_SHOWN = 50
QUICK_REACTIONS = ["👍", "🎉", "❤️"]
BADGE_CAP = 100


# --- threads ----------------------------------------------------------------------------


def _threads_response(request, access, *, form=None):
    page = paginate(request, selectors.thread_list(workspace=access.workspace, user=request.user))
    return render(
        request,
        "collaboration/threads.html",
        page_context(request, access, nav="chat", page_obj=page, form=form or ThreadForm()),
    )


@workspace_page()
@require_http_methods(["GET", "HEAD", "POST"])
def threads(request, access):
    if request.method != "POST":
        return _threads_response(request, access)
    form = ThreadForm(request.POST)
    if form.is_valid():
        try:
            thread = services.thread_create(
                workspace=access.workspace, title=form.cleaned_data["title"], actor=request.user
            )
        except ServiceError as exc:
            form_error(form, exc)
        else:
            return redirect(f"/w/{access.workspace.slug}/chat/{thread.pk}/")
    return _threads_response(request, access, form=form)


def _chat_context(request, access, thread, *, members=None, **extra) -> dict:
    if members is None:
        members = selectors.presence_list(workspace=access.workspace, viewer=request.user)
    return {
        "thread": thread,
        "chat_base": f"/w/{access.workspace.slug}/chat/{thread.pk}/messages/",
        "present_ids": {str(m.user.pk) for m in members},
        "quick_reactions": QUICK_REACTIONS,
        **extra,
    }


def _messages_html(request, access, thread, messages, *, present_ids) -> list:
    """The thread's messages as HTML, each from the item cache while it is unchanged."""
    viewer = request.user
    context = {
        "thread": thread,
        "workspace": access.workspace,
        "access": access,
        "user": viewer,
        "chat_base": f"/w/{access.workspace.slug}/chat/{thread.pk}/messages/",
        "present_ids": present_ids,
        "quick_reactions": QUICK_REACTIONS,
    }

    def version(m):
        author = m.author
        online = str(m.author_id) in present_ids
        rights = (viewer.pk, access.can_write, access.is_admin)
        return (m.pk, m.last_event_seq, author.handle, author.display_name, online, rights)

    return render_items(
        "collaboration/_message.html", messages, version=version, context=context, name="m"
    )


@workspace_page()
@require_http_methods(["GET", "HEAD"])
def thread_detail(request, access, thread_id):
    thread = selectors.thread_get(
        workspace=access.workspace, thread_id=thread_id, user=request.user
    )
    before = request.GET.get("before_seq")
    page = selectors.message_rows_page(
        thread=thread,
        before_seq=int(before) if before and before.isdigit() else None,
        limit=MESSAGES_SHOWN,
    )
    members = list(selectors.presence_list(workspace=access.workspace, viewer=request.user))
    context = _chat_context(request, access, thread, members=members)
    context.update(
        page=page,
        messages_html=_messages_html(
            request, access, thread, page.messages, present_ids=context["present_ids"]
        ),
        after_seq=thread.last_seq,
        form=MessageForm(initial={"client_id": uuid.uuid4().hex}),
        presence_data={"members": members},
    )
    return render(
        request, "collaboration/thread.html", page_context(request, access, nav="chat", **context)
    )


@workspace_page()
@require_http_methods(["GET", "HEAD"])
def thread_updates(request, access, thread_id):
    """What changed after `after_seq`: new messages appended, changed ones replaced (oob)."""
    thread = selectors.thread_get(
        workspace=access.workspace, thread_id=thread_id, user=request.user
    )
    raw = request.GET.get("after_seq", "0")
    after_seq = int(raw) if raw.isdigit() else 0
    events = selectors.event_list(thread=thread, after_seq=after_seq, limit=200)
    if not events:
        return HttpResponse(status=204)
    started = {e.message_id for e in events if e.kind == "text"}
    changed = selectors.messages_by_ids(thread=thread, message_ids={e.message_id for e in events})
    context = _chat_context(
        request,
        access,
        thread,
        after_seq=events[-1].seq,
        new_messages=[m for m in changed if m.pk in started],
        changed_messages=[m for m in changed if m.pk not in started],
    )
    return render(request, "collaboration/_updates.html", page_context(request, access, **context))


@workspace_page()
@require_POST
def message_post(request, access, thread_id):
    thread = selectors.thread_get(
        workspace=access.workspace, thread_id=thread_id, user=request.user
    )
    form = MessageForm(request.POST)
    if form.is_valid():
        try:
            services.message_post(thread=thread, actor=request.user, **form.cleaned_data)
        except ServiceError as exc:
            form_error(form, exc)
        else:
            if not request.htmx:
                return redirect(f"/w/{access.workspace.slug}/chat/{thread.pk}/")
            form = MessageForm(initial={"client_id": uuid.uuid4().hex})
            response = render(
                request,
                "collaboration/_message_form.html",
                page_context(request, access, thread=thread, form=form),
            )
            response["HX-Trigger"] = "chat-updated"
            return response
    template = "collaboration/_message_form.html" if request.htmx else "collaboration/thread.html"
    page = selectors.message_rows_page(thread=thread, limit=MESSAGES_SHOWN)
    members = list(selectors.presence_list(workspace=access.workspace, viewer=request.user))
    context = _chat_context(request, access, thread, members=members, form=form, page=page)
    context.update(
        after_seq=thread.last_seq,
        presence_data={"members": members},
        messages_html=_messages_html(
            request, access, thread, page.messages, present_ids=context["present_ids"]
        ),
    )
    return render(request, template, page_context(request, access, nav="chat", **context))


def _message_response(request, access, thread, message_id, *, edit_form=None, message=None):
    if not request.htmx and edit_form is None:
        return redirect(f"/w/{access.workspace.slug}/chat/{thread.pk}/#msg-{message_id}")
    message = message or selectors.message_get(thread=thread, message_id=message_id)
    context = _chat_context(request, access, thread, m=message, edit_form=edit_form)
    template = "collaboration/_message.html" if request.htmx else "collaboration/message_edit.html"
    return render(request, template, page_context(request, access, nav="chat", **context))


@workspace_page()
@require_http_methods(["GET", "HEAD"])
def message_detail(request, access, thread_id, message_id):
    """One message (htmx: its list item, e.g. after an edit is cancelled)."""
    thread = selectors.thread_get(
        workspace=access.workspace, thread_id=thread_id, user=request.user
    )
    return _message_response(request, access, thread, message_id)


@workspace_page()
@require_http_methods(["GET", "HEAD", "POST"])
def message_edit(request, access, thread_id, message_id):
    """GET: the message with its edit form (the author's only). POST: save the edit."""
    thread = selectors.thread_get(
        workspace=access.workspace, thread_id=thread_id, user=request.user
    )
    if request.method != "POST":
        message = selectors.message_get(thread=thread, message_id=message_id)
        if message.author_id != request.user.pk or message.deleted:
            raise PermissionDenied("Only the author may edit a message.")
        form = MessageEditForm(initial={"body": message.body})
        return _message_response(
            request, access, thread, message_id, edit_form=form, message=message
        )
    form = MessageEditForm(request.POST)
    if form.is_valid():
        try:
            services.message_edit(
                thread=thread,
                message_id=message_id,
                body=form.cleaned_data["body"],
                actor=request.user,
            )
        except ServiceError as exc:
            form_error(form, exc)
        else:
            return _message_response(request, access, thread, message_id)
    return _message_response(request, access, thread, message_id, edit_form=form)


@workspace_page()
@require_POST
def message_delete(request, access, thread_id, message_id):
    thread = selectors.thread_get(
        workspace=access.workspace, thread_id=thread_id, user=request.user
    )
    services.message_delete(thread=thread, message_id=message_id, actor=request.user)
    return _message_response(request, access, thread, message_id)


@workspace_page()
@require_POST
def message_react(request, access, thread_id, message_id):
    """Toggle the signed-in user's reaction `emoji` on the message."""
    thread = selectors.thread_get(
        workspace=access.workspace, thread_id=thread_id, user=request.user
    )
    form = ReactionForm(request.POST)
    if form.is_valid():
        emoji = form.cleaned_data["emoji"]
        message = selectors.message_get(thread=thread, message_id=message_id)
        services.message_react(
            thread=thread,
            message_id=message_id,
            emoji=emoji,
            actor=request.user,
            removed=str(request.user.pk) in message.reactions.get(emoji, []),
        )
    return _message_response(request, access, thread, message_id)


# --- presence ---------------------------------------------------------------------------


# Heartbeats are a viewer's own state, as in the API.
@workspace_page(write=Role.VIEWER)
@require_http_methods(["GET", "HEAD", "POST"])
def presence(request, access):
    """GET: the members-present partial. POST: the signed-in user's heartbeat."""
    if request.method == "POST":
        status = request.POST.get("status", PresenceStatus.ONLINE)
        activity = request.POST.get("activity", PresenceActivity.BROWSING)
        if status not in PresenceStatus.values or activity not in PresenceActivity.values:
            return HttpResponse("Unknown presence status or activity.", status=400)
        services.presence_heartbeat(
            workspace=access.workspace, actor=request.user, status=status, activity=activity
        )
        return HttpResponse(status=204)
    data = presence_panel(request, access)
    return render(
        request, "collaboration/_presence.html", {"data": data, "workspace": access.workspace}
    )


# --- comments ---------------------------------------------------------------------------


def _comment(access, comment_id):
    return selectors.comment_get(workspace=access.workspace, comment_id=comment_id)


def _back_to_project(access, project, anchor="comments"):
    return redirect(f"/w/{access.workspace.slug}/p/{project.slug}/#{anchor}")


@workspace_page()
@require_POST
def comment_create(request, access, project_slug):
    project = project_get_by_slug(access, project_slug)
    form = CommentForm(request.POST)
    parent_id = request.POST.get("parent") or ""
    key = f"reply-{parent_id}" if parent_id else "comment"
    if form.is_valid():
        parent = None
        try:
            if form.cleaned_data["parent"]:
                parent = _comment(access, form.cleaned_data["parent"])
            comment = services.comment_create(
                workspace=access.workspace,
                project=project,
                parent=parent,
                body=form.cleaned_data["body"],
                actor=request.user,
            )
        except ServiceError as exc:
            form_error(form, exc)
        else:
            return _back_to_project(access, project, f"comment-{comment.pk}")
    return project_response(request, access, project, forms={key: form})


def _comment_form_response(request, access, project, comment, *, heading, template, form):
    """A comment's edit or reply form: the bare form for htmx, else a page holding it."""
    context = _comment_context(access, project, comment=comment, form=form)
    if request.htmx:
        return render(request, template, {**context, "user": request.user})
    context.update(heading=heading, form_template=template)
    return render(
        request, "collaboration/comment_form.html", page_context(request, access, **context)
    )


@workspace_page()
@require_http_methods(["GET", "HEAD"])
def comment_reply(request, access, project_slug, comment_id):
    """The reply form for a top-level comment (posted to `comments/` with `parent`)."""
    project = project_get_by_slug(access, project_slug)
    comment = _comment(access, comment_id)
    if not access.can_write or comment.is_deleted:
        raise PermissionDenied("You cannot reply here.")
    return _comment_form_response(
        request,
        access,
        project,
        comment,
        heading="Reply",
        template="collaboration/_comment_reply_form.html",
        form=CommentForm(),
    )


@workspace_page()
@require_http_methods(["GET", "HEAD", "POST"])
def comment_edit(request, access, project_slug, comment_id):
    """GET: the edit form (author or admin). POST: save the edit."""
    project = project_get_by_slug(access, project_slug)
    comment = _comment(access, comment_id)
    if request.method != "POST":
        if (
            not access.can_write
            or comment.is_deleted
            or not (comment.author_id == request.user.pk or access.is_admin)
        ):
            raise PermissionDenied("Only the author or an admin may edit this comment.")
        return _comment_form_response(
            request,
            access,
            project,
            comment,
            heading="Edit comment",
            template="collaboration/_comment_edit_form.html",
            form=CommentEditForm(initial={"body": comment.body}),
        )
    form = CommentEditForm(request.POST)
    if form.is_valid():
        try:
            services.comment_update(
                comment=comment, body=form.cleaned_data["body"], actor=request.user
            )
        except ServiceError as exc:
            form_error(form, exc)
        else:
            return _back_to_project(access, project, f"comment-{comment.pk}")
    return project_response(request, access, project, forms={f"edit-{comment.pk}": form})


@workspace_page()
@require_POST
def comment_delete(request, access, project_slug, comment_id):
    project = project_get_by_slug(access, project_slug)
    services.comment_delete(comment=_comment(access, comment_id), actor=request.user)
    return _back_to_project(access, project)


@workspace_page()
@require_http_methods(["GET", "HEAD"])
def comment_history(request, access, project_slug, comment_id):
    project = project_get_by_slug(access, project_slug)
    comment = _comment(access, comment_id)
    versions = paginate(request, selectors.comment_history(comment=comment))
    template = (
        "collaboration/_comment_history.html"
        if request.htmx
        else "collaboration/comment_history.html"
    )
    return render(
        request,
        template,
        page_context(request, access, project=project, comment=comment, versions=versions),
    )


# --- notifications ----------------------------------------------------------------------


@workspace_page()
@require_http_methods(["GET", "HEAD"])
def notifications(request, access):
    unread_only = request.GET.get("unread") == "1"
    page = paginate(
        request,
        selectors.notification_list(
            workspace=access.workspace, user=request.user, unread=True if unread_only else None
        ),
    )
    return render(
        request,
        "collaboration/notifications.html",
        page_context(request, access, nav="notifications", page_obj=page, unread_only=unread_only),
    )


# Read marks are the caller's own state, not workspace data: viewers may set them (as in the API).
@workspace_page(write=Role.VIEWER)
@require_POST
def notification_read(request, access, notification_id):
    notification = selectors.notification_get(
        workspace=access.workspace, user=request.user, notification_id=notification_id
    )
    services.notification_mark_read(notification=notification, actor=request.user)
    return redirect(f"/w/{access.workspace.slug}/notifications/")


@workspace_page(write=Role.VIEWER)
@require_POST
def notifications_read_all(request, access):
    services.notifications_mark_all_read(workspace=access.workspace, actor=request.user)
    return redirect(f"/w/{access.workspace.slug}/notifications/")


# --- panels other apps' pages show (registered in apps.ready) ----------------------------


def notification_badge(request, access, **page) -> dict:
    # Counting stops at 100: the badge reads "99+" beyond, and costs the same at any size.
    unread = selectors.notification_unread_count(
        workspace=access.workspace, user=request.user, cap=BADGE_CAP
    )
    return {"unread": unread, "shown": f"{BADGE_CAP - 1}+" if unread >= BADGE_CAP else unread}


def presence_panel(request, access, **page) -> dict:
    return {"members": selectors.presence_list(workspace=access.workspace, viewer=request.user)}


def _comment_context(access, project, **extra) -> dict:
    """What the comment templates read besides the comment (no per-request values)."""
    return {
        "workspace": access.workspace,
        "project": project,
        "access": access,
        "comments_base": f"/w/{access.workspace.slug}/p/{project.slug}/comments/",
        **extra,
    }


def comments_panel(request, access, *, project, forms, **page) -> dict:
    comments = paginate(
        request,
        selectors.comment_threads(workspace=access.workspace, project_id=project.pk),
        param="comments_page",
    )
    for comment in comments:
        comment.edit_form = forms.get(f"edit-{comment.pk}")
        comment.reply_form = forms.get(f"reply-{comment.pk}")
        for reply in comment.replies.all():
            reply.edit_form = forms.get(f"edit-{reply.pk}")
    viewer = request.user
    rights = (viewer.pk, access.can_write, access.is_admin)

    def version(c):
        shown = [c, *c.replies.all()]
        return rights, [(x.pk, x.updated_at, x.author.handle, x.author.display_name) for x in shown]

    return {
        "project": project,
        "comments": comments,
        "comments_html": render_items(
            "collaboration/_comment_item.html",
            comments,
            version=version,
            context=_comment_context(access, project, user=viewer),
            name="c",
            cached=not forms,
        ),
        "form": forms.get("comment") or CommentForm(),
    }


def webhooks_panel(request, access, **page) -> dict:
    """Settings page: the workspace's webhook endpoints and their latest deliveries."""
    from .models import WebhookDelivery, WebhookEndpoint

    return {
        "endpoints": list(WebhookEndpoint.objects.filter(workspace=access.workspace)[:20]),
        "deliveries": list(
            WebhookDelivery.objects.filter(workspace=access.workspace)
            .select_related("endpoint")
            .order_by("-created_at")[:20]
        ),
    }
