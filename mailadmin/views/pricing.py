"""Changes that cost money show their price and ask for confirmation before the service runs.

What is costly, and the figure, come from billing (billing.selectors.charge_reasons and
price_preview): the rule of what costs money lives only there."""

import secrets

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render

from billing.selectors import charge_reasons, price_preview
from domains.models import Domain, Mailbox

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
    """Why the change costs money: billing's rule (billing.selectors.charge_reasons), not ours."""
    return charge_reasons(
        customer_id=domain.customer_id,
        creating=creating,
        quota_tier=quota_tier,
        send_limit=send_limit,
        archive=archive,
        mailbox=mailbox,
    )


def preview(*, domain: Domain, change: str, mailbox: Mailbox | None = None, **kwargs):
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
