"""The archives of a domain's deleted mailboxes (issue 13: an archive outlives its mailbox, and
its Delegates still read it until its retention ends or the Manager removes it here)."""

import datetime as dt

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from archiving.forms import ArchiveRemoveForm
from archiving.retention import REMOVED_ARCHIVE_KEPT_DAYS
from archiving.selectors import orphan_archive_for, orphan_archives_for
from archiving.services import archive_remove_orphan
from domains.selectors import domain_for
from mailadmin.forms import apply_service_errors
from mailadmin.views.common import panel_view


@panel_view
@require_http_methods(["GET", "POST"])
def deleted_archives(request, domain_name):
    domain = domain_for(user=request.user, name=domain_name, manager_only=True)
    failed_pk, failed_form = None, None
    if request.method == "POST":
        archive = orphan_archive_for(
            user=request.user, domain=domain, archive_id=_int(request.POST.get("archive"))
        )
        form = ArchiveRemoveForm(request.POST, auto_id=f"id_%s_{archive.pk}")
        if form.is_valid():
            try:
                archive_remove_orphan(
                    archive=archive, confirm_address=form.cleaned_data["confirm_address"], actor=request.user
                )
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("Archive removed."))
                return redirect("mailadmin:deleted_archives", domain.name)
        failed_pk, failed_form = archive.pk, form
    rows = []
    for archive in orphan_archives_for(user=request.user, domain=domain):
        form = failed_form if archive.pk == failed_pk else ArchiveRemoveForm(auto_id=f"id_%s_{archive.pk}")
        purge_on = (
            archive.removed_at + dt.timedelta(days=REMOVED_ARCHIVE_KEPT_DAYS) if archive.removed_at else None
        )
        years = archive.retention_years
        retention = ngettext("%(n)d year", "%(n)d years", years) % {"n": years}
        rows.append({"archive": archive, "form": form, "purge_on": purge_on, "retention": retention})
    return render(
        request,
        "mailadmin/deleted_archives.html",
        {"domain": domain, "rows": rows, "is_manager": True},
        status=400 if failed_form is not None else 200,
    )


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
