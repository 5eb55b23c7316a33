"""Changes that cost money show their price and ask for confirmation before the service runs.

Costly (issue #4): a mailbox beyond the included count, a space tier above 8 GB, a send limit
above 1,000 a day, an archive. The figure comes from billing.selectors.price_preview."""

import secrets

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.utils.translation import gettext as _

from domains.models import Domain, Mailbox, QuotaTier, SendLimitTier
from domains.selectors import customer_mailbox_count, included_mailboxes

FREE_SEND_LIMITS = {SendLimitTier.L250, SendLimitTier.L1000}
# Fields never echoed into the confirmation page: they wait server-side (cache, 15 minutes)
# under a one-time token bound to the session, and come back when the change is confirmed.
SECRET_FIELDS = ("password",)
PARKED_FIELD = "parked_secrets"
PARK_SECONDS = 15 * 60


def _park_key(request: HttpRequest, token: str) -> str:
    return f"mailadmin:parked:{request.user.pk}:{request.session.session_key}:{token}"


def form_data(request: HttpRequest) -> QueryDict:
    """request.POST with the parked secret fields of a confirmed change put back (once)."""
    token = request.POST.get(PARKED_FIELD, "")
    if not token:
        return request.POST
    data = request.POST.copy()
    del data[PARKED_FIELD]
    key = _park_key(request, token)
    parked = cache.get(key) or {}
    cache.delete(key)
    for name, value in parked.items():
        if name in SECRET_FIELDS:
            data[name] = value
    return data


def reasons_for(
    *,
    domain: Domain,
    creating: bool = False,
    quota_tier: int | None = None,
    send_limit: int | None = None,
    archive: bool = False,
    mailbox: Mailbox | None = None,
) -> list[str]:
    reasons = []
    if creating and customer_mailbox_count(domain=domain) >= included_mailboxes(domain=domain):
        reasons.append(_("This mailbox is beyond the number included in your contract."))
    if (
        quota_tier is not None
        and quota_tier != QuotaTier.GB8
        and (mailbox is None or quota_tier > mailbox.quota_tier)
    ):
        reasons.append(_("Space of %(n)d GB is a paid option.") % {"n": quota_tier})
    if (
        send_limit is not None
        and send_limit not in FREE_SEND_LIMITS
        and (mailbox is None or send_limit > mailbox.send_limit)
    ):
        reasons.append(_("A send limit of %(n)s a day is a paid option.") % {"n": f"{send_limit:,}"})
    if archive:
        reasons.append(_("The Archive is a paid option."))
    return reasons


def preview(*, domain: Domain, change: str, mailbox: Mailbox | None = None, **kwargs):
    from billing.selectors import price_preview

    return price_preview(customer=domain.customer, change=change, mailbox=mailbox, **kwargs)


def confirm_charge(
    request: HttpRequest, *, domain: Domain, reasons: list[str], price, title: str, cancel_url: str
) -> HttpResponse:
    """The confirmation page: what costs money, how much, and the same form posted again with confirm=1."""
    hidden = [
        (k, v)
        for k, values in request.POST.lists()
        if k not in ("csrfmiddlewaretoken", "confirm", PARKED_FIELD, *SECRET_FIELDS)
        for v in values
    ]
    parked = {k: request.POST[k] for k in SECRET_FIELDS if request.POST.get(k)}
    if parked:
        if request.session.session_key is None:
            request.session.save()
        token = secrets.token_urlsafe(24)
        cache.set(_park_key(request, token), parked, PARK_SECONDS)
        hidden.append((PARKED_FIELD, token))
    return render(
        request,
        "mailadmin/confirm_charge.html",
        {
            "domain": domain,
            "reasons": reasons,
            "price": price,
            "title": title,
            "hidden": hidden,
            "cancel_url": cancel_url,
        },
    )


def confirmed(request: HttpRequest) -> bool:
    return request.POST.get("confirm") == "1"
