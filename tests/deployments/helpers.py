"""Small builders shared by the shipping-pipeline tests."""

from datetime import timedelta

from django.utils import timezone

from deployments import services
from deployments.models import Approval, ApprovalStatus


def approved(project, world, scope, payload, **kwargs) -> Approval:
    """An approval requested by the member and approved by the admin."""
    approval, _ = services.approval_request(
        project=project,
        scope=scope,
        payload=payload,
        intent_summary=f"{scope} please",
        actor=world.member,
        **kwargs,
    )
    return services.approval_approve(approval=approval, actor=world.admin)


def expire(approval: Approval) -> Approval:
    approval.expires_at = timezone.now() - timedelta(seconds=1)
    approval.save(update_fields=["expires_at"])
    return approval


def status_of(approval: Approval) -> str:
    return Approval.objects.get(pk=approval.pk).status


__all__ = ["approved", "expire", "status_of", "ApprovalStatus"]
