"""The control panel's Time Machine pages: the domain's restore requests and its mailboxes
deleted in the last 15 days (with restore). Postmaster and Manager of the domain
(domains.selectors.domain_for); nobody else sees that the domain exists."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from archiving.services import archive_mailbox_undelete
from domains.selectors import deleted_mailbox_for, deleted_mailboxes_for, domain_for, is_manager_of
from mailadmin.views.common import paginate, panel_view
from snapshots.selectors import restore_requests_for_domain
from snapshots.services import snapshot_rows_recover


@panel_view
@require_GET
def restore_list(request, domain_name):
    domain = domain_for(user=request.user, name=domain_name)
    return render(
        request,
        "mailadmin/restore_list.html",
        {
            "domain": domain,
            "is_manager": is_manager_of(request.user, domain),
            "page": paginate(request, restore_requests_for_domain(domain=domain)),
        },
    )


@panel_view
@require_http_methods(["GET", "POST"])
def deleted_mailboxes(request, domain_name):
    domain = domain_for(user=request.user, name=domain_name)
    errors: list[str] = []
    if request.method == "POST":
        try:
            pk = int(request.POST.get("deleted", ""))
        except ValueError:
            pk = 0
        deleted = deleted_mailbox_for(user=request.user, domain=domain, pk=pk)
        try:
            # and its archive, if it had one, is its own again
            mailbox = archive_mailbox_undelete(deleted=deleted, actor=request.user)
        except ValidationError as exc:
            errors = [m for ms in exc.message_dict.values() for m in ms]
        else:
            snapshot_rows_recover(mailbox_id=mailbox.pk)
            messages.success(
                request,
                _("%(address)s is back, with its mail and its snapshots.") % {"address": mailbox.address},
            )
            return redirect("mailadmin:deleted_mailboxes", domain.name)
    return render(
        request,
        "mailadmin/deleted_mailboxes.html",
        {
            "domain": domain,
            "is_manager": is_manager_of(request.user, domain),
            "items": deleted_mailboxes_for(user=request.user, domain=domain),
            "errors": errors,
        },
        status=400 if errors else 200,
    )
