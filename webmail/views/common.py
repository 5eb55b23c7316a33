"""What every webmail view shares: the login check, the user's mailbox, their language, the
idle timeout, and the pooled IMAP connection of the request."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import wraps

from django.conf import settings
from django.contrib import auth
from django.http import Http404, HttpRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from imapclient.exceptions import IMAPClientError

from accounts.web.decorators import portal_login_required
from domains.models import Mailbox
from mailstore.imap import MailstoreImapError, open_session
from mailstore.pool import POOL
from mailsuite.client_address import client_ip
from webmail.models import Preferences
from webmail.selectors import mailbox_for_request

SEEN_KEY = "webmail_seen"


def idle_limit() -> int:
    return int(getattr(settings, "WEBMAIL_IDLE_SECONDS", 2 * 3600))


def encode_folder(name: str) -> str:
    return name


def webmail_view(view=None, *, unavailable_status: int = 503):
    """Logged in to the webmail portal, with an active mailbox; the session ends after
    WEBMAIL_IDLE_SECONDS without requests (and at SESSION_COOKIE_AGE in any case). When the
    mail server cannot be reached the page says so (503; the portal's landing page answers 200
    with the same notice, so the browser shows it as a normal page)."""
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
        if request.user.language:
            translation.activate(request.user.language)
            request.LANGUAGE_CODE = request.user.language
        try:
            return view(request, *args, **kwargs)
        except (MailstoreImapError, OSError, IMAPClientError) as exc:
            if isinstance(exc, IMAPClientError) and "NONEXISTENT" in str(exc).upper():
                raise Http404 from exc
            return render(
                request, "webmail/unavailable.html", {"error": exc, "folder": None}, status=unavailable_status
            )

    checked = portal_login_required("webmail", login_url="webmail:login")(inner)

    @wraps(view)
    def outer(request: HttpRequest, *args, **kwargs):
        # One query for the mailbox, its domain (with its 2FA rule) and the page size, read before
        # the portal check so that accounts.twofactor.requires_2fa finds user.mailbox (and its
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


def pool_key(request: HttpRequest) -> tuple:
    return (
        request.session.session_key or "",
        request.mailbox.address,
        settings.MAIL_BIND,
        settings.MAIL_PORTS["imap"],
    )


@contextmanager
def imap(request: HttpRequest) -> Iterator:
    """The request's IMAP connection (pooled, logged in as the user's mailbox through the master
    user, with the browser's IP passed to Dovecot)."""
    address = request.mailbox.address
    ip = client_ip(request)

    def opener():
        return open_session(address, client_ip=ip, client_name="mailsuite-webmail")

    with POOL.connection(pool_key(request), opener) as conn:
        yield conn


def page_size(request: HttpRequest) -> int:
    """The user's messages per page (read with the mailbox, see mailbox_for_request)."""
    size = getattr(request.mailbox, "webmail_page_size", None)
    return size or Preferences._meta.get_field("page_size").default


def folder_param(request: HttpRequest) -> str:
    name = request.GET.get("f") or request.POST.get("f") or "INBOX"
    return name[:500]


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")
