"""Template filters for chat and comments: mentions highlighted, reactions counted."""

from django import template
from django.utils.html import escape
from django.utils.safestring import mark_safe

from collaboration.services import MENTION

register = template.Library()


@register.filter
def with_mentions(text: str) -> str:
    """Escape `text`, then wrap each @handle in a `.mention` span."""
    escaped = escape(text or "")
    return mark_safe(  # noqa: S308 - built from escaped text only
        MENTION.sub(lambda m: f'<span class="mention">@{m.group(1)}</span>', escaped)
    )


@register.filter
def reacted_by(user_ids, user) -> bool:
    return str(user.pk) in (user_ids or [])


@register.filter
def in_set(value, container) -> bool:
    return str(value) in container


@register.filter
def join_url(base, part) -> str:
    """`base` + `part` as text (Django's `add` drops a UUID part)."""
    return f"{base}{part}"
