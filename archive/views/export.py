"""Getting messages out of an archive: the export of a selection or of a search's result (a
.zip of .eml with its manifest, or an mbox), streamed as it is read (archiving.export: one
message in memory at a time); and "put back into my mailbox" for the owner. Both POST only."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from archive.views import archive_view
from archive.views.browse import SearchForm
from archiving import export as exports
from archiving.putback import archive_put_back
from archiving.readlog import archive_read_record
from archiving.selectors import ArchiveAccess, export_entries
from mailstore.errors import MailstoreError
from portalkit import downloads

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
    archive_read_record(access=access, action="export", seqs=seqs, detail={"format": fmt})
    content_type, extension = FORMATS[fmt]
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    filename = f"archive-{access.address}-{stamp}.{extension}"
    chunks = exports.zip_stream(access.archive, entries) if fmt == "zip" else exports.mbox_stream(entries)
    return downloads.streamed_download(chunks, filename=filename, content_type=content_type)


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
