"""The Archive portal's plan pages, for the OWNER of an archived mailbox (logged in with the
mailbox's credentials): the retention (longer at once, shorter after 30 days, cancellable) and
the import wizard with its progress. A Delegate, or a mailbox without an archive, gets 404:
there is nothing of theirs here. Every read is scoped to request.user's own mailbox."""

from functools import wraps

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from archiving.forms import ImportMappingForm, RetentionForm
from archiving.importing import active_import, import_folders, import_start, import_status
from archiving.models import ArchiveImport
from archiving.services import archive_retention_cancel, archive_retention_change
from domains.models import Mailbox
from mailstore.errors import MailstoreError
from portalkit.branding import brand_for
from portalkit.decorators import portal_login_required

PORTAL = "archive"
LOGIN_URL = "archive:login"


def _owned_archive(request):
    """The request user's own mailbox and its attached archive; 404 otherwise."""
    mailbox = (
        Mailbox.objects.select_related("domain", "archive_plan__archive")
        .filter(user=request.user, is_active=True, domain__is_active=True)
        .first()
    )
    plan = getattr(mailbox, "archive_plan", None) if mailbox is not None else None
    if plan is None or plan.archive is None:
        raise Http404
    return mailbox, plan.archive


def owner_view(view):
    @wraps(view)
    def inner(request, *args, **kwargs):
        mailbox, archive = _owned_archive(request)
        request.archive_mailbox, request.archive = mailbox, archive
        return view(request, *args, **kwargs)

    return portal_login_required(PORTAL, login_url=LOGIN_URL)(inner)


def _render(request, template, context, status=200):
    brand = brand_for(request.archive_mailbox.domain, portal=PORTAL)
    context = {
        "mailbox": request.archive_mailbox,
        "archive": request.archive,
        "brand_name": brand.name,
        "brand_logo_url": brand.logo_url,
        **context,
    }
    return render(request, template, context, status=status)


@owner_view
@require_GET
def plan_home(request):
    archive = request.archive
    return _render(
        request,
        "archive/plan_home.html",
        {
            "form": RetentionForm(initial={"retention_years": archive.retention_years}),
            "archive_import": active_import(archive),
        },
    )


@owner_view
def plan_retention(request):
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    mailbox = request.archive_mailbox
    if request.POST.get("action") == "cancel":
        try:
            archive_retention_cancel(mailbox=mailbox, actor=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("The change of the retention was cancelled."))
        return redirect("archive:plan")
    form = RetentionForm(request.POST)
    if form.is_valid():
        try:
            archive = archive_retention_change(
                mailbox=mailbox,
                retention_years=form.cleaned_data["retention_years"],
                actor=request.user,
                may_shorten=True,  # the owner may
            )
        except ValidationError as exc:
            form.add_error("retention_years", exc.messages[0] if exc.messages else "")
        else:
            if archive.pending_retention_years is not None:
                messages.success(
                    request,
                    _("The shorter retention takes effect in 30 days; it can be cancelled until then."),
                )
            else:
                messages.success(request, _("Retention changed."))
            return redirect("archive:plan")
    return _render(
        request,
        "archive/plan_home.html",
        {"form": form, "archive_import": active_import(request.archive)},
        400,
    )


@owner_view
@require_http_methods(["GET", "POST"])
def plan_import(request):
    mailbox, archive = request.archive_mailbox, request.archive
    running = active_import(archive)
    if running is not None:
        return redirect("archive:plan_import_progress", running.pk)
    try:
        folders = import_folders(mailbox)
    except MailstoreError:
        return _render(request, "archive/plan_import.html", {"form": None, "unavailable": True}, 503)
    form = ImportMappingForm(request.POST or None, folders=folders)
    if request.method == "POST" and form.is_valid():
        try:
            job = import_start(
                mailbox=mailbox, mapping=form.mapping(), actor=request.user, notify=[mailbox.address]
            )
        except ValidationError as exc:
            for error in exc.messages:
                form.add_error(None, error)
        except MailstoreError:
            form.add_error(None, _("The mailbox cannot be read right now. Try again in a few minutes."))
        else:
            messages.success(request, _("Import started."))
            return redirect("archive:plan_import_progress", job.pk)
    return _render(request, "archive/plan_import.html", {"form": form}, 400 if form.is_bound else 200)


def _job(request, job):
    found = ArchiveImport.objects.filter(pk=job, archive=request.archive).first()
    if found is None:
        raise Http404
    return found


@owner_view
@require_GET
def plan_import_progress(request, job):
    found = _job(request, job)
    return _render(
        request, "archive/plan_import_progress_page.html", {"job": found, "status": import_status(found)}
    )


@portal_login_required(PORTAL, login_url=LOGIN_URL, json=True)
@require_GET
def plan_import_status(request, job):
    try:
        request.archive_mailbox, request.archive = _owned_archive(request)
        found = _job(request, job)
    except Http404:
        return JsonResponse({"error": _("Not found.")}, status=404)
    return JsonResponse(import_status(found))
