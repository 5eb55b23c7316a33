"""What every webmail view shares: the login check, the user's mailbox, their language, the
idle timeout, the mail-store session of the request, and the one place where the mail store's
errors become HTTP answers (webmail_view)."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import wraps

from django.conf import settings
from django.contrib import auth
from django.http import Http404, HttpRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.functional import SimpleLazyObject

from core.client_address import client_ip
from domains.models import Mailbox
from mailstore.errors import MailstoreError, NotFound
from mailstore.folders import Folder
from mailstore.imap import LiveMailbox
from mailstore.reader import MailSession, folder_tree_cached, mail_session
from portalkit.branding import brand_for
from portalkit.decorators import portal_login_required
from webmail.models import Preferences
from webmail.selectors import mailbox_for_request

SEEN_KEY = "webmail_seen"


def idle_limit() -> int:
    return int(settings.WEBMAIL_IDLE_SECONDS)


def encode_folder(name: str) -> str:
    return name


def webmail_view(view=None, *, unavailable_status: int = 503):
    """Logged in to the webmail portal, with an active mailbox; the session ends after
    WEBMAIL_IDLE_SECONDS without requests (and at SESSION_COOKIE_AGE in any case).

    The mail store's errors become HTTP here, and only here: NotFound (a folder, message or
    part that the user's mailbox does not have) is a 404; any other (Dovecot unreachable, a
    refused login or command, over quota) is the "mail server unavailable" page (503; the
    portal's landing page answers 200 with the same notice, so the browser shows it as a
    normal page). Views catch a mail-store error themselves only to say something more
    precise on their own page (a refused folder change, a refused vacation reply)."""
    if view is None:
        return lambda v: webmail_view(v, unavailable_status=unavailable_status)

    @wraps(view)
    def inner(request: HttpRequest, *args, **kwargs):
        now = int(time.time())
        seen = request.session.get(SEEN_KEY)
        if seen is not None and now - seen > idle_limit():
            from webmail.views.auth import end_session

            end_session(request)
            return redirect(f"{reverse('webmail:login')}?expired=1")
        if seen is None or now - seen > 60:  # one session write a minute at most
            request.session[SEEN_KEY] = now
        mailbox = getattr(request, "_webmail_mailbox", None)
        if mailbox is None or not (mailbox.is_active and mailbox.domain.is_active):
            auth.logout(request)
            return redirect("webmail:login")
        request.mailbox = mailbox
        request.brand = SimpleLazyObject(lambda: brand_for(mailbox.domain, portal="webmail"))
        # The folder tree, unread counts and quota of every page's shell (webmail/base.html):
        # built when the template asks, unless the view has built it already (the list does).
        request.wm_shell = SimpleLazyObject(lambda: shell_for(request))
        if request.user.language:
            translation.activate(request.user.language)
            request.LANGUAGE_CODE = request.user.language
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404 from exc
        except MailstoreError as exc:
            return render(
                request, "webmail/unavailable.html", {"error": exc, "folder": None}, status=unavailable_status
            )

    checked = portal_login_required("webmail", login_url="webmail:login")(inner)

    @wraps(view)
    def outer(request: HttpRequest, *args, **kwargs):
        # One query for the mailbox, its domain (with its 2FA rule) and the page size, read before
        # the portal check so that domains.twofactor.requires_2fa finds user.mailbox (and its
        # domain) already loaded instead of querying them again on every request.
        user = request.user
        if user.is_authenticated:
            mailbox = mailbox_for_request(user=user)
            user_field = Mailbox._meta.get_field("user")
            user_field.remote_field.set_cached_value(user, mailbox)
            if mailbox is not None:
                user_field.set_cached_value(mailbox, user)
            request._webmail_mailbox = mailbox
        return checked(request, *args, **kwargs)

    return outer


@contextmanager
def mailbox_session(request: HttpRequest) -> Iterator[MailSession]:
    """The request's mail-store session: the user's live mailbox, with the browser's IP passed
    to Dovecot, on a connection pooled for this web session (closed at logout)."""
    with mail_session(_source(request), owner=_owner(request)) as mail:
        yield mail


def _source(request: HttpRequest) -> LiveMailbox:
    return LiveMailbox(request.mailbox.address, client_ip=client_ip(request), client_name="mailsuite-webmail")


def _owner(request: HttpRequest) -> str:
    return request.session.session_key or ""


@dataclass
class Shell:
    """What every webmail page shows around its content: the folder tree with unread counts,
    the INBOX's unread count (in the tab title), the space used."""

    folders: list[Folder]
    used_bytes: int | None  # None: Dovecot has not reported it yet
    quota_bytes: int
    current: str = ""  # the folder the page shows (highlighted)

    @property
    def inbox_unseen(self) -> int:
        return next((f.unseen for f in self.folders if f.special == "INBOX"), 0)

    @property
    def used_percent(self) -> int:
        if not self.quota_bytes or self.used_bytes is None:
            return 0
        return min(100, round(100 * self.used_bytes / self.quota_bytes))


def shell_for(
    request: HttpRequest, mail: MailSession | None = None, *, folders=None, current: str | None = None
) -> Shell:
    """The shell of this request's page: the folder tree from `folders`, or through `mail`, or
    from the cache (mailstore.reader.folder_tree_cached, opening a session only when it is
    not there). A mail-store failure leaves the tree empty: the page itself says what failed."""
    mailbox = request.mailbox
    if folders is None:
        try:
            if mail is not None:
                folders = mail.folder_tree(cached=True)
            else:
                folders = folder_tree_cached(_source(request), owner=_owner(request))
        except MailstoreError:
            folders = []
    if current is None:
        match = request.resolver_match
        current = folder_param(request) if match and match.url_name in ("message", "thread") else ""
    return Shell(
        folders=folders,
        current=current,
        used_bytes=getattr(mailbox, "webmail_used_bytes", None),
        quota_bytes=getattr(mailbox, "webmail_quota_bytes", None) or mailbox.quota_bytes,
    )


def threaded(request: HttpRequest) -> bool:
    """The user's conversation switch (read with the mailbox, see mailbox_for_request)."""
    value = getattr(request.mailbox, "webmail_threaded", None)
    return Preferences._meta.get_field("threaded").default if value is None else value


def page_size(request: HttpRequest) -> int:
    """The user's messages per page (read with the mailbox, see mailbox_for_request)."""
    size = getattr(request.mailbox, "webmail_page_size", None)
    return size or Preferences._meta.get_field("page_size").default


def folder_param(request: HttpRequest) -> str:
    name = request.GET.get("f") or request.POST.get("f") or "INBOX"
    return name[:500]


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")
