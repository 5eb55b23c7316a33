"""DNS and client set-up of a domain: the records it needs with a live check of each (refreshed
on demand, cached briefly), DKIM key rotation, and the parameters mail programs use. Postmaster
and Manager alike."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from domains import clientsetup, dkim, services
from domains.selectors import domain_for, is_manager_of
from mailadmin.views.common import panel_view


@panel_view
@require_http_methods(["GET", "POST"])
def domain_dns(request, domain_name):
    domain = domain_for(user=request.user, name=domain_name)
    if request.method == "POST":
        if request.POST.get("action") == "rotate":
            try:
                key = services.dkim_key_rotate(domain=domain, actor=request.user)
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                messages.success(
                    request,
                    _(
                        "New DKIM key %(selector)s created. Publish its record; it starts signing once "
                        "the check finds it, and the current key signs until then."
                    )
                    % {"selector": key.selector},
                )
        else:
            services.domain_dns_check(domain=domain, refresh=True)
        return redirect("mailadmin:domain_dns", domain.name)
    report = services.domain_dns_check(domain=domain)
    keys = {k.selector: k for k in dkim.published_keys(domain)}
    rows = [
        {
            "check": check,
            "key": keys.get(check.selector),
            "keep_until": dkim.retire_after(keys[check.selector], settings.DKIM_RETIRE_GRACE_DAYS)
            if check.selector in keys
            else None,
        }
        for check in report.checks
    ]
    imap, pop3, smtp = clientsetup.servers()
    return render(
        request,
        "mailadmin/domain_dns.html",
        {
            "domain": domain,
            "is_manager": is_manager_of(request.user, domain),
            "report": report,
            "rows": rows,
            "has_pending": any(k.state == k.State.PENDING for k in keys.values()),
            "servers": {"imap": imap, "pop3": pop3, "smtp": smtp},
        },
    )
