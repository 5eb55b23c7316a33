"""Customer area: home, Monitor page and the JSON the Monitor polls. Thin views: the selectors
check who may see what (billing.selectors.customer_user_for / monitor_for)."""

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from domains.models import CustomerUser
from monitor.selectors import monitor_as_dict, monitor_for
from portalkit.decorators import portal_login_required

PORTAL = "customer"
login_required = portal_login_required(PORTAL, login_url="customer:login")
# How often the Monitor page asks for fresh figures (ms); a change shows within this plus one request.
MONITOR_POLL_MS = 2000


def may_enter(user) -> bool:
    return CustomerUser.objects.filter(user_id=user.pk).exists()


@require_GET
@never_cache
@login_required
def home(request: HttpRequest) -> HttpResponse:
    customer_user = CustomerUser.objects.select_related("customer").filter(user_id=request.user.pk).first()
    if customer_user is None:
        raise PermissionDenied
    return render(
        request, "customer/home.html", {"customer_user": customer_user, "customer": customer_user.customer}
    )


@require_GET
@never_cache
@login_required
def monitor(request: HttpRequest) -> HttpResponse:
    data = monitor_for(user=request.user)
    return render(request, "customer/monitor.html", {"m": data, "poll_ms": MONITOR_POLL_MS})


@require_GET
@never_cache
@portal_login_required(PORTAL, login_url="customer:login", json=True)
def monitor_data(request: HttpRequest) -> JsonResponse:
    """Polled by static/billing/monitor.js. Answers 403 (never a login redirect) when the
    session is not a customer-area session with the mail-configuration right."""
    user = request.user
    try:
        data = monitor_for(user=user)
    except PermissionDenied:
        return JsonResponse({"error": _("You do not have the mail configuration right.")}, status=403)
    html = render_to_string("customer/_monitor_tables.html", {"m": data}, request=request)
    return JsonResponse({"monitor": monitor_as_dict(data), "html": html})
