"""The import wizard in the control panel (the Manager), right after attaching an archive:
folders of the live mailbox mapped to Received, Sent or Ignore, then a progress page that polls
a JSON status. The work is archiving.importing's Celery job."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from archiving.forms import ImportMappingForm
from archiving.importing import active_import, import_folders, import_start, import_status
from archiving.models import ArchiveImport
from domains.selectors import domain_for, mailbox_for
from mailadmin.forms import apply_service_errors
from mailadmin.views.common import mailbox_url, panel_view
from mailstore.errors import MailstoreError
from portalkit.decorators import portal_login_required


def _load(request, domain_name, pk):
    domain = domain_for(user=request.user, name=domain_name, manager_only=True)
    mailbox = mailbox_for(user=request.user, domain=domain, pk=pk)
    plan = getattr(mailbox, "archive_plan", None)
    if plan is None or plan.archive is None:
        raise Http404
    return domain, mailbox, plan.archive


@panel_view
@require_http_methods(["GET", "POST"])
def import_wizard(request, domain_name, pk):
    domain, mailbox, archive = _load(request, domain_name, pk)
    running = active_import(archive)
    if running is not None:
        return redirect("mailadmin:mailbox_archive_import_progress", domain.name, mailbox.pk, running.pk)
    try:
        folders = import_folders(mailbox)
    except MailstoreError:
        return render(
            request,
            "mailadmin/archive_import.html",
            {"domain": domain, "mailbox": mailbox, "archive": archive, "form": None, "unavailable": True},
            status=503,
        )
    form = ImportMappingForm(request.POST or None, folders=folders)
    if request.method == "POST" and form.is_valid():
        notify = [mailbox.address]
        if request.user.email:
            notify.append(request.user.email)
        try:
            job = import_start(mailbox=mailbox, mapping=form.mapping(), actor=request.user, notify=notify)
        except ValidationError as exc:
            apply_service_errors(form, exc)
        except MailstoreError:
            form.add_error(None, _("The mailbox cannot be read right now. Try again in a few minutes."))
        else:
            messages.success(request, _("Import started."))
            return redirect("mailadmin:mailbox_archive_import_progress", domain.name, mailbox.pk, job.pk)
    return render(
        request,
        "mailadmin/archive_import.html",
        {"domain": domain, "mailbox": mailbox, "archive": archive, "form": form},
        status=400 if form.is_bound else 200,
    )


def _job(request, domain_name, pk, job):
    domain, mailbox, archive = _load(request, domain_name, pk)
    found = ArchiveImport.objects.filter(pk=job, archive=archive).first()
    if found is None:
        raise Http404
    return domain, mailbox, found


@panel_view
@require_GET
def import_progress(request, domain_name, pk, job):
    domain, mailbox, found = _job(request, domain_name, pk, job)
    return render(
        request,
        "mailadmin/archive_import_progress.html",
        {
            "domain": domain,
            "mailbox": mailbox,
            "job": found,
            "status": import_status(found),
            "back_url": mailbox_url(domain, mailbox),
        },
    )


@portal_login_required("mailadmin", login_url="mailadmin:login", json=True)
@require_GET
def import_status_json(request, domain_name, pk, job):
    try:
        _domain, _mailbox, found = _job(request, domain_name, pk, job)
    except (Http404, PermissionDenied):
        return JsonResponse({"error": _("Not found.")}, status=404)
    return JsonResponse(import_status(found))
