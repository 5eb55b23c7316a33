"""What an actor may read of the archives, and the reads themselves: THE place where the
Archive portal's rules are enforced (never the templates).

- The owner: the login of the archive's mailbox (every archive that mailbox ever had).
- A Delegate: the archives of the mailboxes granted (domains.DelegateGrant), while the Delegate
  has not expired (read on every call), and only the messages whose date falls inside the
  Delegate's window (a message without a date is outside any window). A "headers only" grant
  gives sender, recipients, date and subject: `entry_raw` and `export_entries` refuse
  (ContentRefused), the lists carry no size or attachment names, the search looks at those
  headers only (never the body's words) and refuses the has-attachment filter.

Everything answers Http404 for an archive or entry the actor may not see (an outsider cannot
tell a missing archive from someone else's), ContentRefused (a 403) for content a headers-only
grant does not give."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Coalesce, ExtractYear
from django.http import Http404
from django.utils import timezone

from archiving.blobstore import blob_store
from archiving.models import Archive, ArchivedMessage
from archiving.search import SearchFilters, apply_filters, search_backend
from core.models import AuditEntry
from domains.models import Delegate, DelegateGrant, Domain

HEADER_FIELDS = ("id", "seq", "folder", "message_date", "archived_at", "sender", "recipients", "subject")
FULL_FIELDS = (*HEADER_FIELDS, "size", "attachment_names", "message_id")

SORTS = {
    "date": ("when", "seq"),
    "-date": ("-when", "-seq"),
    "sender": ("sender", "-when"),
    "-sender": ("-sender", "-when"),
    "subject": ("subject", "-when"),
    "-subject": ("-subject", "-when"),
    "size": ("size", "-when"),
    "-size": ("-size", "-when"),
}
HEADER_SORTS = {k: v for k, v in SORTS.items() if "size" not in k}

READ_ACTIONS = ("list", "search", "open", "source", "eml", "attachment", "export")
AUDIT_PREFIX = "archive.delegate."


class ContentRefused(PermissionDenied):
    """The grant shows headers only: no body, attachment, source, .eml or export."""


@dataclass(frozen=True)
class ArchiveAccess:
    """What `actor` may read of `archive` (built only by this module)."""

    archive: Archive
    actor: Any
    delegate: Delegate | None = None
    full: bool = True
    window_start: dt.date | None = None
    window_end: dt.date | None = None
    domain: Domain | None = field(default=None)

    @property
    def is_owner(self) -> bool:
        return self.delegate is None

    @property
    def pk(self) -> int:
        return self.archive.pk

    @property
    def address(self) -> str:
        return self.archive.address

    def window_q(self) -> Q:
        q = Q()
        if self.window_start:
            q &= Q(message_date__gte=_local_midnight(self.window_start))
        if self.window_end:
            q &= Q(message_date__lt=_local_midnight(self.window_end + dt.timedelta(days=1)))
        return q


def _local_midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min), timezone.get_default_timezone())


def _delegate_of(user: Any) -> Delegate | None:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    return (
        Delegate.objects.filter(user=user, expires_on__gte=timezone.localdate())
        .select_related("manager")
        .first()
    )


def archives_for(*, user: Any) -> list[ArchiveAccess]:
    """Every archive `user` may read: their own mailbox's, or those granted to them (a grant
    and its archive outlive the mailbox: both keep its id, `mailbox_key`)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    accesses = [
        ArchiveAccess(archive=archive, actor=user, domain=archive.domain)
        for archive in Archive.objects.filter(
            mailbox__user=user, mailbox__is_active=True, mailbox__domain__is_active=True
        )
        .select_related("domain")
        .order_by("-created_at", "-pk")
    ]
    delegate = _delegate_of(user)
    if delegate is not None:
        access_of = dict(DelegateGrant.objects.filter(delegate=delegate).values_list("mailbox_key", "access"))
        archives = (
            Archive.objects.filter(mailbox_key__in=access_of)
            .select_related("domain")
            .order_by("address", "-created_at")
        )
        accesses += [
            ArchiveAccess(
                archive=archive,
                actor=user,
                delegate=delegate,
                full=access_of[archive.mailbox_key] == DelegateGrant.Access.FULL,
                window_start=delegate.window_start,
                window_end=delegate.window_end,
                domain=archive.domain,
            )
            for archive in archives
        ]
    return accesses


def may_use_archive_portal(user: Any) -> bool:
    return bool(archives_for(user=user)) or _delegate_of(user) is not None


def is_delegate(user: Any) -> bool:
    return getattr(user, "kind", "") == "delegate"


def archive_access(*, user: Any, archive_id: int) -> ArchiveAccess:
    """THE access check of the portal: what `user` may read of archive `archive_id` (404 when
    nothing). Read fresh on every request: a grant revoked or expired applies at once."""
    for access in archives_for(user=user):
        if access.pk == archive_id:
            return access
    raise Http404


# -- lists and search ---------------------------------------------------------------------------


def _visible(access: ArchiveAccess) -> QuerySet[ArchivedMessage]:
    return (
        ArchivedMessage.objects.filter(archive=access.archive)
        .filter(access.window_q())
        .annotate(when=Coalesce("message_date", "archived_at"))
    )


def _fields(access: ArchiveAccess) -> tuple[str, ...]:
    return (*(FULL_FIELDS if access.full else HEADER_FIELDS), "when")


def years_for(access: ArchiveAccess) -> list[dict]:
    """The years with messages, newest first, with the count per folder."""
    tz = timezone.get_default_timezone()
    rows = (
        _visible(access)
        .annotate(year=ExtractYear("when", tzinfo=tz))
        .values("year", "folder")
        .order_by()
        .annotate(n=Count("id"))
    )
    years: dict[int, dict] = {}
    for row in rows:
        year = years.setdefault(row["year"], {"year": row["year"], "received": 0, "sent": 0})
        year[row["folder"]] = row["n"]
    return sorted(years.values(), key=lambda y: -y["year"])


def entries_for(
    access: ArchiveAccess, *, folder: str, year: int | None = None, sort: str = "-date"
) -> QuerySet[dict]:
    """The messages of one folder (of one local year), as dictionaries of what the access may
    show, sorted by `sort` (a key of SORTS; size only with full content)."""
    if folder not in ArchivedMessage.Folder.values:
        raise Http404
    rows = _visible(access).filter(folder=folder)
    if year is not None:
        if not 1 <= year < 9999:
            raise Http404
        tz = timezone.get_default_timezone()
        start = dt.datetime(year, 1, 1, tzinfo=tz)
        end = dt.datetime(year + 1, 1, 1, tzinfo=tz)
        rows = rows.filter(when__gte=start, when__lt=end)
    sorts = SORTS if access.full else HEADER_SORTS
    return rows.order_by(*sorts.get(sort, sorts["-date"])).values(*_fields(access))


def search_entries(
    access: ArchiveAccess, *, text: str, filters: SearchFilters, limit: int = 500
) -> list[dict]:
    """The search: full text (headers, body text, attachment names) with full content; with
    headers only, every word must appear in the sender, the recipients or the subject (the
    body's words are not searchable: a match would tell what the body says)."""
    if not access.full:
        if filters.has_attachment is not None:
            raise ContentRefused
        rows = apply_filters(_visible(access), filters)
        for word in text.split():
            rows = rows.filter(
                Q(subject__icontains=word) | Q(sender__icontains=word) | Q(recipients__icontains=word)
            )
        return list(rows.order_by("-when", "-seq").values(*_fields(access))[:limit])
    found = search_backend().search(archive_ids=[access.pk], text=text, filters=filters, limit=limit)
    ids = [row.pk for row in found]
    by_id = {row["id"]: row for row in _visible(access).filter(pk__in=ids).values(*_fields(access))}
    return [by_id[pk] for pk in ids if pk in by_id]


def entry_headers(access: ArchiveAccess, entry_id: int) -> dict:
    """One message's row as the access may show it (404 outside the archive or the window)."""
    row = _visible(access).filter(pk=entry_id).values(*_fields(access)).first()
    if row is None:
        raise Http404
    return row


# -- content -----------------------------------------------------------------------------------


def _require_full(access: ArchiveAccess) -> None:
    if not access.full:
        raise ContentRefused


def entry_raw(access: ArchiveAccess, entry_id: int) -> tuple[ArchivedMessage, bytes]:
    """One message and its raw bytes (the body, source, .eml and attachments come from these).
    Refused for a headers-only grant; 404 outside the archive or the window."""
    _require_full(access)
    entry = _visible(access).filter(pk=entry_id).first()
    if entry is None:
        raise Http404
    return entry, blob_store().get(entry.blob_id)


def export_entries(
    access: ArchiveAccess,
    *,
    ids: Iterable[int] | None = None,
    search: tuple[str, SearchFilters] | None = None,
) -> QuerySet[ArchivedMessage]:
    """The entries of an export (a selection of ids, or a search's result), in chain order.
    Refused for a headers-only grant; ids outside the archive or the window are left out."""
    _require_full(access)
    rows = _visible(access).defer("search")
    if ids is not None:
        rows = rows.filter(pk__in=list(ids))
    elif search is not None:  # every match, not only the first page the search page shows
        text, filters = search
        found = search_backend().search(archive_ids=[access.pk], text=text, filters=filters, limit=None)
        rows = rows.filter(pk__in=found.values("pk"))
    else:
        raise Http404
    return rows.order_by("seq")


def blob_of(access: ArchiveAccess, entry: ArchivedMessage) -> bytes:
    _require_full(access)
    return blob_store().get(entry.blob_id)


# -- who read what -------------------------------------------------------------------------------


def readers_for(access: ArchiveAccess) -> QuerySet[AuditEntry]:
    """The owner's page "who read my archive": every Delegate action on it, newest first."""
    if not access.is_owner:
        raise PermissionDenied
    rows = AuditEntry.objects.filter(action__startswith=AUDIT_PREFIX, after__archive=access.pk)
    if access.domain is not None:  # the (domain, -at) index narrows it first
        rows = rows.filter(domain=access.domain)
    return rows.order_by("-at", "-id")


def archive_reads_for(*, user: Any, domain: Domain) -> QuerySet[AuditEntry]:
    """The Manager's page: every Delegate action on the archives of `domain`'s mailboxes (the
    Manager of the domain only; 404 for anyone else)."""
    _manager_domain(user, domain)
    return AuditEntry.objects.filter(domain=domain, action__startswith=AUDIT_PREFIX).order_by("-at", "-id")


# -- archives of deleted mailboxes (the control panel) --------------------------------------------


def _manager_domain(user: Any, domain: Domain) -> None:
    manager = getattr(user, "manager", None) if getattr(user, "is_authenticated", False) else None
    if manager is None or domain.manager_id != manager.pk or not domain.is_active or not user.is_active:
        raise Http404


def orphan_archives_for(*, user: Any, domain: Domain) -> QuerySet[Archive]:
    """The archives of `domain`'s deleted mailboxes (the Manager of the domain only; 404 for
    anyone else), each with its message count, newest first: still read by Delegates until
    their retention ends or the Manager removes them."""
    _manager_domain(user, domain)
    return (
        Archive.objects.filter(domain=domain, mailbox__isnull=True)
        .annotate(message_count=Count("messages"))
        .order_by("address", "-created_at")
    )


def orphan_archive_for(*, user: Any, domain: Domain, archive_id: int) -> Archive:
    archive = orphan_archives_for(user=user, domain=domain).filter(pk=archive_id).first()
    if archive is None:
        raise Http404
    return archive
