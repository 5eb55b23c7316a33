"""Browsing a snapshot day: the day picker, the day's folders (every one, subscribed or not), a
folder's messages (sorted and searched by the server, paginated), the reader with the webmail's
sanitised rendering (portalkit.reading), the source, one message as .eml, a whole folder as a
.zip of .eml files or as an mbox, streamed.

Nothing here can change the day: the session is a snapshot login (mailstore.imap.SnapshotDay),
which Dovecot opens read-only, and the reader never sets \\Seen on a read-only source."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterator
from urllib.parse import quote

from django.contrib import auth
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_POST

from mailstore.errors import MailstoreError, NotFound
from mailstore.pool import POOL
from mailstore.reader import mail_session
from portalkit import reading, rendering
from portalkit.exports import mbox_stream, zip_stream
from portalkit.listing import SORTS, list_order, list_query, rows_html, search_from
from snapshots.selectors import snapshot_for, snapshots_for
from timemachine.views.common import day_session, day_source, folder_param, timemachine_view

logger = logging.getLogger(__name__)

PER_PAGE = 50
EXPORTS = {
    "zip": ("application/zip", "zip"),
    "mbox": ("application/mbox", "mbox"),
}


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    """Log out, closing the session's pooled snapshot connections."""
    if request.session.session_key:
        POOL.close_session(request.session.session_key)
    auth.logout(request)
    return redirect("timemachine:login")


def _day(value: str) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        return None


@timemachine_view
def home(request: HttpRequest) -> HttpResponse:
    """The day picker: the mailbox's readable days, newest first, with when each was taken.
    ?day= (the header's picker) opens that day when it is one of them."""
    wanted = _day(request.GET.get("day", ""))
    if wanted is not None and snapshot_for(user=request.user, day=wanted) is not None:
        return redirect(day_url(wanted, request.GET.get("f", "INBOX")[:500]))
    days = list(snapshots_for(user=request.user))
    return render(request, "timemachine/days.html", {"days": days, "picker_days": days})


def day_url(day: datetime.date, folder: str = "INBOX", **params) -> str:
    query = {"f": folder, **{k: v for k, v in params.items() if v not in (None, "", False)}}
    return f"{reverse('timemachine:day', args=[day])}?{urlencode(query)}"


def _page_context(request: HttpRequest) -> dict:
    """What every page of a day shows around its content: the day and the picker's days."""
    return {
        "snapshot": request.snapshot,
        "day": request.snapshot.day,
        "picker_days": snapshots_for(user=request.user),
    }


@timemachine_view
def day(request: HttpRequest, day: datetime.date) -> HttpResponse:
    """A folder of the day (INBOX unless ?f=), with the day's folder tree."""
    folder = folder_param(request)
    sort, reverse_order, page_number = list_order(request)
    search = search_from(request)
    with day_session(request) as mail:
        folders = mail.folder_tree()
        current = next((f for f in folders if f.name == folder), None)
        if current is None or not current.selectable:
            raise NotFound(f"no folder {folder!r}")
        page = mail.message_page(
            folder, sort=sort, reverse=reverse_order, search=search, page=page_number, per_page=PER_PAGE
        )
    base = list_query(search=search, sort=sort, reverse=reverse_order)
    context = {
        **_page_context(request),
        "folders": folders,
        "folder": current,
        "page": page,
        "rows": rows_html(
            page.items,
            folder=folder,
            show_recipients=current.special in ("Sent", "Drafts"),
            base=reverse("timemachine:message", args=[day, 0])[: -len("0/")],
            selectable=False,
        ),
        "sort": sort,
        "order": base["order"],
        "sorts": SORTS,
        "sort_links": [
            (key, label, day_url(day, folder, **_resorted(base, key))) for key, label in SORTS.items()
        ],
        "search": search,
        "prev_url": day_url(day, folder, **base, page=page.number - 1) if page.has_previous else "",
        "next_url": day_url(day, folder, **base, page=page.number + 1) if page.has_next else "",
    }
    return render(request, "timemachine/list.html", context)


def _resorted(query: dict[str, str], key: str) -> dict[str, str]:
    """The list's query sorted by `key`: descending first, the other way when already so."""
    flip = query["sort"] == key and query["order"] == "desc"
    return {**query, "sort": key, "order": "asc" if flip else "desc"}


def _message(request: HttpRequest, day: datetime.date, uid: int):
    folder = folder_param(request)
    with day_session(request) as mail:
        raw = mail.message_raw(folder, uid)
    return folder, raw


def part_links(day: datetime.date, uid: int, folder: str) -> rendering.PartLinks:
    base = reverse("timemachine:message_part", args=[day, uid, 0])[: -len("0/")]
    query = f"?f={quote(folder, safe='')}"
    return rendering.PartLinks(part=lambda index: f"{base}{index}/{query}")


@timemachine_view
def message(request: HttpRequest, day: datetime.date, uid: int) -> HttpResponse:
    folder = folder_param(request)
    with day_session(request) as mail:
        raw = mail.message_raw(folder, uid)
        prev_uid, next_uid = mail.neighbours(folder, uid)
    allow_remote = request.GET.get("images") == "1"
    context = reading.message_context(raw, allow_remote=allow_remote, links=part_links(day, uid, folder))
    fq = quote(folder, safe="")
    context.update(
        {
            **_page_context(request),
            "folder_name": folder,
            "prev_uid": prev_uid,
            "next_uid": next_uid,
            "body_url": f"{reverse('timemachine:message_body', args=[day, uid])}?f={fq}",
            "images_url": f"?f={fq}&images=1",
        }
    )
    return render(request, "timemachine/message.html", context)


@xframe_options_sameorigin
@timemachine_view
def body(request: HttpRequest, day: datetime.date, uid: int) -> HttpResponse:
    _folder, raw = _message(request, day, uid)
    return reading.body_response(raw.raw, allow_remote=request.GET.get("images") == "1")


@timemachine_view
def part(request: HttpRequest, day: datetime.date, uid: int, index: int) -> HttpResponse:
    _folder, raw = _message(request, day, uid)
    return reading.part_response(raw.raw, index)


@timemachine_view
def source(request: HttpRequest, day: datetime.date, uid: int) -> HttpResponse:
    _folder, raw = _message(request, day, uid)
    return reading.source_response(raw.raw)


@timemachine_view
def eml(request: HttpRequest, day: datetime.date, uid: int) -> HttpResponse:
    _folder, raw = _message(request, day, uid)
    return reading.eml_response(raw.raw)


@timemachine_view
def export(request: HttpRequest, day: datetime.date) -> HttpResponse:
    """The folder ?f= as ?format=zip (one .eml per message) or mbox, streamed: the messages are
    read in batches on a connection of the download's own and written out as they come, so the
    memory used does not grow with the folder."""
    folder = folder_param(request)
    kind = request.GET.get("format", "zip")
    if kind not in EXPORTS:
        return HttpResponse(status=400)
    with day_session(request) as mail:
        if folder not in mail.folder_names():
            raise NotFound(f"no folder {folder!r}")
    content_type, extension = EXPORTS[kind]
    source = day_source(request)

    def messages() -> Iterator:
        # A connection of its own, not the pool's: a download may last long, and a page the user
        # opens meanwhile must not wait for it (nor reuse it while it is mid-FETCH).
        try:
            with mail_session(source, timeout=120) as mail:
                yield from mail.messages_stream(folder)
        except MailstoreError:
            logger.exception("export of %s on %s broken off", folder, day)
            raise

    stream = zip_stream(messages(), folder=folder) if kind == "zip" else mbox_stream(messages())
    response = StreamingHttpResponse(stream, content_type=content_type)
    label = folder.replace("/", "-")
    return reading.attachment_headers(response, filename=f"{label} {day.isoformat()}.{extension}")
