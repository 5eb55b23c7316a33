"""Browsing an archive: the archives one may read, an archive's years, a folder's list (sorted,
paginated), the search, the reader (the webmail's renderer, portalkit.rendering, from the raw
bytes), the source, the .eml and the attachments; and the owner's page of who read it."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.clickjacking import xframe_options_sameorigin

from archive.views import archive_view, base_context
from archiving import selectors
from archiving.models import ArchivedMessage
from archiving.readlog import archive_read_record
from archiving.search import SearchFilters
from archiving.selectors import ArchiveAccess
from portalkit import reading, rendering

PER_PAGE = 50
SEARCH_LIMIT = 500  # shown; an export of the search takes every match
DATE = forms.DateInput(attrs={"type": "date"})


class SearchForm(forms.Form):
    q = forms.CharField(label=gettext_lazy("Words"), required=False, max_length=500)
    sender = forms.CharField(label=gettext_lazy("From"), required=False, max_length=320)
    recipient = forms.CharField(label=gettext_lazy("To"), required=False, max_length=320)
    since = forms.DateField(label=gettext_lazy("From date"), required=False, widget=DATE)
    until = forms.DateField(label=gettext_lazy("To date"), required=False, widget=DATE)
    folder = forms.ChoiceField(
        label=gettext_lazy("Folder"),
        required=False,
        choices=[("", gettext_lazy("Received and Sent")), *ArchivedMessage.Folder.choices],
    )
    attachment = forms.ChoiceField(
        label=gettext_lazy("Attachments"),
        required=False,
        choices=[
            ("", gettext_lazy("With or without")),
            ("yes", gettext_lazy("With attachments")),
            ("no", gettext_lazy("Without attachments")),
        ],
    )

    def __init__(self, *args, full: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not full:  # a headers-only grant tells nothing about attachments
            del self.fields["attachment"]

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise forms.ValidationError(_("The start date is after the end date."))
        return data

    def filters(self) -> SearchFilters:
        data = self.cleaned_data
        tz = timezone.get_default_timezone()

        def midnight(day: dt.date | None) -> dt.datetime | None:
            return dt.datetime.combine(day, dt.time.min, tzinfo=tz) if day else None

        attachment = data.get("attachment") or ""
        return SearchFilters(
            folder=data.get("folder") or None,
            sender=data.get("sender", "").strip(),
            recipient=data.get("recipient", "").strip(),
            since=midnight(data.get("since")),
            before=midnight(data["until"] + dt.timedelta(days=1)) if data.get("until") else None,
            has_attachment={"yes": True, "no": False}.get(attachment),
        )

    @property
    def active(self) -> bool:
        return self.is_bound and self.is_valid() and any(self.cleaned_data.values())


def _folder_label(folder: str) -> str:
    return str(dict(ArchivedMessage.Folder.choices)[folder])


@archive_view
def home(request: HttpRequest) -> HttpResponse:
    accesses = selectors.archives_for(user=request.user)
    if len(accesses) == 1:
        return redirect("archive:archive", accesses[0].pk)
    return render(request, "archive/home.html", {**base_context(None), "accesses": accesses})


@archive_view
def archive(request: HttpRequest, access: ArchiveAccess) -> HttpResponse:
    years = selectors.years_for(access)
    archive_read_record(access=access, action="list", detail={"view": "years"})
    return render(
        request,
        "archive/archive.html",
        {**base_context(access), "years": years, "form": SearchForm(full=access.full)},
    )


SORT_LABELS = {
    "date": gettext_lazy("Date"),
    "sender": gettext_lazy("From"),
    "subject": gettext_lazy("Subject"),
    "size": gettext_lazy("Size"),
}


@archive_view
def folder(request: HttpRequest, access: ArchiveAccess, year: int, folder: str) -> HttpResponse:
    sort = request.GET.get("sort", "-date")
    sorts = selectors.SORTS if access.full else selectors.HEADER_SORTS
    if sort not in sorts:
        sort = "-date"
    rows = selectors.entries_for(access, folder=folder, year=year, sort=sort)
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    archive_read_record(
        access=access,
        action="list",
        seqs=[row["seq"] for row in page],
        detail={"folder": folder, "year": year, "page": page.number},
    )
    columns = [key for key in SORT_LABELS if access.full or key != "size"]
    return render(
        request,
        "archive/list.html",
        {
            **base_context(access),
            "page": page,
            "year": year,
            "folder": folder,
            "folder_label": _folder_label(folder),
            "sort": sort,
            "columns": [(key, SORT_LABELS[key]) for key in columns],
        },
    )


class SearchPage:
    """One page of a search's results, for archive/_rows.html as a Django Page: the search asks
    only for the rows up to this page and one more (a first page costs 51 rows, not 500), so
    the number of pages is known only once the last one is reached (`paginator.num_pages` is
    None before)."""

    def __init__(self, rows: list[dict], number: int, complete: bool) -> None:
        self.number = number
        self.object_list = rows[(number - 1) * PER_PAGE : number * PER_PAGE]
        self._more = not complete
        pages = max(1, -(-len(rows) // PER_PAGE)) if complete else None
        self.paginator = type("Pages", (), {"num_pages": pages, "count": len(rows) if complete else None})

    def __iter__(self):
        return iter(self.object_list)

    def __len__(self) -> int:
        return len(self.object_list)

    def has_previous(self) -> bool:
        return self.number > 1

    def has_next(self) -> bool:
        return self._more

    def has_other_pages(self) -> bool:
        return self.has_previous() or self.has_next()

    def previous_page_number(self) -> int:
        return self.number - 1

    def next_page_number(self) -> int:
        return self.number + 1


def _page_number(request: HttpRequest) -> int:
    text = request.GET.get("page", "")
    return max(1, min(int(text), SEARCH_LIMIT // PER_PAGE)) if text.isdigit() else 1


@archive_view
def search(request: HttpRequest, access: ArchiveAccess) -> HttpResponse:
    form = SearchForm(request.GET or None, full=access.full)
    rows: list[dict] = []
    searched = form.is_bound and form.is_valid()
    number = _page_number(request)
    shown_up_to = min(number * PER_PAGE, SEARCH_LIMIT)
    if searched:
        # The rows up to this page and one more: whether a next page (or more than the limit) exists.
        rows = selectors.search_entries(
            access, text=form.cleaned_data["q"], filters=form.filters(), limit=shown_up_to + 1
        )
    complete = len(rows) <= shown_up_to
    rows = rows[:shown_up_to]
    number = min(number, max(1, -(-len(rows) // PER_PAGE)))  # past the last page: the last one
    limited = not complete and shown_up_to >= SEARCH_LIMIT
    page = SearchPage(rows, number, complete or limited)
    if searched:
        archive_read_record(
            access=access,
            action="search",
            seqs=[row["seq"] for row in page],  # what was shown, as a list page records
            detail={"query": {k: str(v) for k, v in form.cleaned_data.items() if v}},
        )
    return render(
        request,
        "archive/search.html",
        {
            **base_context(access),
            "form": form,
            "page": page,
            "searched": searched,
            "total": len(rows),
            "complete": complete,
            "limited": limited,
        },
        status=400 if form.is_bound and not searched else 200,
    )


def _part_links(access: ArchiveAccess, entry_id: int) -> rendering.PartLinks:
    base = reverse("archive:part", args=[access.pk, entry_id, 0])[: -len("0/")]
    return rendering.PartLinks(part=lambda index: f"{base}{index}/")


@archive_view
def message(request: HttpRequest, access: ArchiveAccess, entry_id: int) -> HttpResponse:
    row = selectors.entry_headers(access, entry_id)
    context = {**base_context(access), "row": row, "folder_label": _folder_label(row["folder"])}
    if access.full:
        _entry, raw = selectors.entry_raw(access, entry_id)
        allow_remote = request.GET.get("images") == "1"
        parsed = rendering.render(raw, allow_remote=allow_remote, links=_part_links(access, entry_id))
        context.update(
            m=parsed,
            text_html=rendering.text_to_html(parsed.text) if not parsed.html else "",
            images=allow_remote,
        )
    archive_read_record(access=access, action="open", seqs=[row["seq"]])
    return render(request, "archive/message.html", context)


@xframe_options_sameorigin
@archive_view
def body(request: HttpRequest, access: ArchiveAccess, entry_id: int) -> HttpResponse:
    _entry, raw = selectors.entry_raw(access, entry_id)
    return reading.body_response(raw, allow_remote=request.GET.get("images") == "1")


@archive_view
def part(request: HttpRequest, access: ArchiveAccess, entry_id: int, index: int) -> HttpResponse:
    entry, raw = selectors.entry_raw(access, entry_id)
    response = reading.part_response(raw, index)  # 404 when there is no such part: nothing read
    archive_read_record(access=access, action="attachment", seqs=[entry.seq], detail={"part": index})
    return response


@archive_view
def source(request: HttpRequest, access: ArchiveAccess, entry_id: int) -> HttpResponse:
    entry, raw = selectors.entry_raw(access, entry_id)
    archive_read_record(access=access, action="source", seqs=[entry.seq])
    return reading.source_response(raw)


@archive_view
def eml(request: HttpRequest, access: ArchiveAccess, entry_id: int) -> HttpResponse:
    entry, raw = selectors.entry_raw(access, entry_id)
    archive_read_record(access=access, action="eml", seqs=[entry.seq])
    name = (entry.subject or "").strip()[:80] or _("message")
    return reading.download_response(raw, filename=f"{name}.eml", content_type="message/rfc822")


@archive_view
def readers(request: HttpRequest, access: ArchiveAccess) -> HttpResponse:
    page = Paginator(selectors.readers_for(access), PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "archive/readers.html", {**base_context(access), "page": page})
