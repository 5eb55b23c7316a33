"""The Archive portal: the owner (with the mailbox's login, 2FA per the domain's rules) and
Delegates (their own login, 2FA always) read archives. Every rule of who may read what is in
archiving.selectors; every Delegate read is recorded by archiving.readlog. Read-only: no view
changes or deletes an archived message."""

from __future__ import annotations

from functools import wraps

from django.http import HttpRequest
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from archiving.selectors import ArchiveAccess, archive_access, is_delegate, may_use_archive_portal
from portalkit.branding import brand_for, login_branding
from portalkit.decorators import portal_login_required
from portalkit.portal import Portal

ARCHIVE = Portal(
    name="archive",
    title=_("Archive"),
    may_enter=may_use_archive_portal,
    home_url="archive:home",
    branding=login_branding("archive"),
    requires_2fa=is_delegate,
)


def archive_view(view):
    """Logged in to the Archive portal (a Delegate's session passed the second factor); with an
    `archive_id` in the URL, the view gets `access` (archiving.selectors.archive_access: 404
    when the user may read nothing of it)."""

    @portal_login_required("archive", login_url="archive:login")
    @wraps(view)
    def inner(request: HttpRequest, *args, **kwargs):
        if is_delegate(request.user) and not request.user.is_verified():
            return redirect(f"{reverse('archive:login')}")
        if "archive_id" in kwargs:
            access = archive_access(user=request.user, archive_id=kwargs.pop("archive_id"))
            request.brand = brand_for(access.domain, portal="archive") if access.domain else None
            return view(request, access, *args, **kwargs)
        return view(request, *args, **kwargs)

    return inner


def base_context(access: ArchiveAccess | None) -> dict:
    return {"access": access, "portal": ARCHIVE}
