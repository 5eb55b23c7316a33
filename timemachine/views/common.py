"""What every Time Machine view shares (browse.py and restore.py): the portal's login, the user's
own active mailbox, the day of the URL checked against that mailbox's snapshots, the read-only
session of that day, and the one place where the mail store's errors become HTTP answers.

The URL carries a day, never a mailbox: the mailbox is always the logged-in user's own
(snapshots.selectors.snapshot_for), so no id in a URL can open another mailbox's day."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from contextlib import contextmanager
from functools import wraps

from django.http import Http404, HttpRequest, JsonResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext as _

from core.client_address import client_ip
from mailstore.errors import MailstoreError, NotFound
from mailstore.imap import SnapshotDay
from mailstore.reader import MailSession, mail_session
from portalkit.branding import brand_for
from portalkit.decorators import portal_login_required
from snapshots.selectors import mailbox_of, snapshot_for


class DayConverter:
    """A snapshot day in a URL: YYYY-MM-DD (a date that does not exist is no match: 404)."""

    regex = r"\d{4}-\d{2}-\d{2}"

    def to_python(self, value: str) -> datetime.date:
        try:
            return datetime.date.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(value) from exc

    def to_url(self, value: datetime.date | str) -> str:
        return value.isoformat() if isinstance(value, datetime.date) else str(value)


PORTAL = "timemachine"
LOGIN_URL = "timemachine:login"


def timemachine_view(view=None, *, json: bool = False, unavailable_status: int = 503):
    """THE access rule of every Time Machine view (browsing and restore alike).

    - No Time Machine session (portalkit.session.portal_session_ok): the login page with
      `next`, or for a view polled by a script (`json=True`) a JSON 403, never a login page.
    - A login without an active mailbox of its own (a Manager; a mailbox or domain deactivated
      since it logged in): 403, the portal's page or JSON. The session is left alone: it may be
      a control-panel session too.
    - Otherwise request.mailbox is that mailbox, request.brand its domain's branding, and the
      user's language is active. With a `day` in the URL, that day must be one of the mailbox's
      readable snapshots (else 404), available to the view as request.snapshot.

    NotFound from the mail store (a folder, message or part the day does not have) is a 404;
    any other mail-store error is the "mail server unavailable" page."""
    if view is None:
        return lambda v: timemachine_view(v, json=json, unavailable_status=unavailable_status)

    @wraps(view)
    def inner(request: HttpRequest, *args, **kwargs):
        mailbox = mailbox_of(user=request.user)
        if mailbox is None:
            if json:
                return JsonResponse({"error": _("This login has no mailbox.")}, status=403)
            return render(request, "timemachine/no_mailbox.html", status=403)
        request.mailbox = mailbox
        request.brand = SimpleLazyObject(lambda: brand_for(mailbox.domain, portal=PORTAL))
        request.snapshot = None
        if "day" in kwargs:
            request.snapshot = snapshot_for(user=request.user, day=kwargs["day"])
            if request.snapshot is None:
                raise Http404("no such snapshot day")
        if request.user.language:
            translation.activate(request.user.language)
            request.LANGUAGE_CODE = request.user.language
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404 from exc
        except MailstoreError as exc:
            return render(request, "timemachine/unavailable.html", {"error": exc}, status=unavailable_status)

    return portal_login_required(PORTAL, login_url=LOGIN_URL, json=json)(inner)


def day_source(request: HttpRequest) -> SnapshotDay:
    """The snapshot of the request's day (checked by timemachine_view), read-only."""
    snapshot = request.snapshot
    return SnapshotDay(snapshot.mailbox_id, snapshot.day, client_ip=client_ip(request))


@contextmanager
def day_session(request: HttpRequest) -> Iterator[MailSession]:
    """The request's session on its snapshot day, pooled for this web session (closed at logout)."""
    with mail_session(day_source(request), owner=request.session.session_key or "") as mail:
        yield mail


def folder_param(request: HttpRequest) -> str:
    return (request.GET.get("f") or request.POST.get("f") or "INBOX")[:500]
