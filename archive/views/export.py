"""Getting messages out of an archive: the export of a selection or of a search's result (a
.zip of .eml with its manifest, or an mbox), streamed as it is read (archiving.export: one
message in memory at a time); and "put back into my mailbox" for the owner. Both POST only."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from archive.views import archive_view, base_context
from archive.views.browse import SearchForm
from archiving import export as exports
from archiving.export_jobs import archive_export_request, export_path
from archiving.models import ArchiveExport
from archiving.putback import archive_put_back
from archiving.readlog import archive_read_record
from archiving.selectors import ArchiveAccess, export_entries
from mailstore.errors import MailstoreError
from portalkit import reading

FORMATS = {"zip": ("application/zip", "zip"), "mbox": ("application/mbox", "mbox")}


def _ids(request: HttpRequest) -> list[int]:
    return [int(v) for v in request.POST.getlist("id") if v.isdigit()][:100_000]


def _back(request: HttpRequest, access: ArchiveAccess) -> HttpResponse:
    back = request.POST.get("back", "")
    if back.startswith("/") and not back.startswith("//"):
        return redirect(back)
    return redirect("archive:archive", access.pk)


@require_POST
@archive_view
def export(request: HttpRequest, access: ArchiveAccess) -> HttpResponse:
    fmt = request.POST.get("format", "zip")
    if fmt not in FORMATS:
        fmt = "zip"
    ids = _ids(request)
    if request.POST.get("scope") == "search":
        form = SearchForm(request.POST, full=access.full)
        if not form.is_valid():
            messages.error(request, _("The search cannot be exported: correct its filters."))
            return _back(request, access)
        entries = export_entries(access, search=(form.cleaned_data["q"], form.filters()))
    else:
        if not ids:
            messages.error(request, _("Select at least one message to export."))
            return _back(request, access)
        entries = export_entries(access, ids=ids)
    seqs = list(entries.values_list("seq", flat=True))
    if len(seqs) > settings.ARCHIVE_EXPORT_STREAM_MAX:
        ids = list(entries.values_list("pk", flat=True))
        job = archive_export_request(access=access, entry_ids=ids, fmt=fmt)
        archive_read_record(access=access, action="export", seqs=seqs, detail={"format": fmt, "job": job.pk})
        return redirect("archive:export_job", access.pk, job.pk)
    archive_read_record(access=access, action="export", seqs=seqs, detail={"format": fmt})
    content_type, extension = FORMATS[fmt]
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    filename = f"archive-{access.address}-{stamp}.{extension}"
    chunks = exports.zip_stream(access.archive, entries) if fmt == "zip" else exports.mbox_stream(entries)
    return reading.streamed_download(chunks, filename=filename, content_type=content_type)


@require_POST
@archive_view
def put_back(request: HttpRequest, access: ArchiveAccess) -> HttpResponse:
    ids = _ids(request)
    if not ids:
        messages.error(request, _("Select at least one message to put back."))
        return _back(request, access)
    try:
        done = archive_put_back(access=access, entry_ids=ids)
    except MailstoreError:
        messages.error(
            request, _("Your mailbox cannot be reached right now: nothing was put back. Try again later.")
        )
        return _back(request, access)
    text = ngettext(
        "%(n)d message put back into your mailbox.",
        "%(n)d messages put back into your mailbox.",
        done.appended,
    ) % {"n": done.appended}
    if done.already_there:
        text += " " + _("%(n)d already there.") % {"n": done.already_there}
    messages.success(request, text)
    return _back(request, access)


def _job(access: ArchiveAccess, request: HttpRequest, job_id: int) -> ArchiveExport:
    """The export job `job_id` of this archive, asked by this user (404 for anyone else)."""
    job = ArchiveExport.objects.filter(pk=job_id, archive=access.archive, requested_by=request.user).first()
    if job is None:
        raise Http404
    return job


@archive_view
def export_job(request: HttpRequest, access: ArchiveAccess, job_id: int) -> HttpResponse:
    job = _job(access, request, job_id)
    expired = job.expires_at is not None and job.expires_at < timezone.now()
    percent = int(job.done * 100 / job.total) if job.total else 100
    return render(
        request,
        "archive/export_job.html",
        {**base_context(access), "job": job, "percent": percent, "expired": expired},
    )


@archive_view
def export_download(request: HttpRequest, access: ArchiveAccess, job_id: int, token: str) -> HttpResponse:
    job = _job(access, request, job_id)
    if (
        job.token != token
        or job.status != ArchiveExport.Status.DONE
        or job.expires_at is None
        or job.expires_at < timezone.now()
    ):
        raise Http404
    path = export_path(job)
    if not path.exists():
        raise Http404
    content_type, extension = FORMATS[job.format]
    stamp = timezone.localtime(job.created_at).strftime("%Y%m%d-%H%M")
    response = FileResponse(path.open("rb"), content_type=content_type)
    response["Content-Disposition"] = reading.attachment_disposition(
        f"archive-{access.address}-{stamp}.{extension}"
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
