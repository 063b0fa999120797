"""Billing pages: `/teams/<slug>/billing/` (plan, limits with usage, credits and ledger)."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render

from . import selectors

LEDGER_PAGE_SIZE = 25


@login_required
def team_billing(request, slug: str):
    """The team's plan and entitlement, each limit with a usage bar, and the credit ledger.

    Team members only (any role); everyone else gets 404, as for the API.
    """
    team = selectors.team_for_member_slug(user=request.user, slug=slug)
    summary = selectors.team_billing_summary(team=team)
    ledger = Paginator(selectors.credit_entries(team=team), LEDGER_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {
        "team": team,
        "summary": summary,
        "usage_rows": selectors.usage_rows(summary=summary),
        "ledger": ledger,
    }
    return render(request, "billing/billing.html", context)
