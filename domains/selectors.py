"""Reads of the control panel, scoped to the acting user.

Who administers a domain: its Postmaster (the mailbox postmaster@domain) and its Manager.
A Manager may do everything a Postmaster does, plus the Manager-only pages (send limits,
archives, branding, delegates). Every tenant read in a view goes through a function here.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import AccessLogEntry
from accounts.selectors import access_log_rows
from billing.inclusion import inclusion_for
from core.models import AuditEntry
from domains.models import (
    Address,
    AddressKind,
    AddressTarget,
    Delegate,
    DelegateGrant,
    DeletedMailbox,
    Domain,
    DomainAlias,
    Mailbox,
    Manager,
)
from mailstore.selectors import quota_usage_for

MAILBOX_SORTS = {
    "address": ("local_part",),
    "-address": ("-local_part",),
    "name": ("last_name", "first_name", "local_part"),
    "-name": ("-last_name", "-first_name", "-local_part"),
    "quota": ("quota_tier", "local_part"),
    "-quota": ("-quota_tier", "local_part"),
    "send_limit": ("send_limit", "local_part"),
    "-send_limit": ("-send_limit", "local_part"),
    "last_login": ("last_login_at", "local_part"),
    "-last_login": ("-last_login_at", "local_part"),
}


def _manager_of(user: Any) -> Manager | None:
    if not getattr(user, "is_authenticated", False):
        return None
    try:
        return user.manager
    except Manager.DoesNotExist:
        return None


def domains_for(*, user: Any) -> QuerySet[Domain]:
    """The active domains the user administers, as Postmaster or as Manager."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Domain.objects.none()
    postmaster_of = Mailbox.objects.filter(
        domain=OuterRef("pk"), user=user, is_postmaster=True, is_active=True
    )
    return (
        Domain.objects.filter(is_active=True)
        .filter(Q(manager__user=user) | Q(Exists(postmaster_of)))
        .select_related("customer")
        .order_by("name")
    )


def can_administer(*, actor: Any, domain: Domain) -> bool:
    """THE answer to "may this actor administer this domain" (the control panel, Tracemail and
    the access log all ask here): the domain is active and the actor is an active login that is
    the domain's active Postmaster (the mailbox postmaster@domain) or the domain's Manager (the
    Manager of the domain's customer to whom the domain is assigned; another Manager of the same
    customer is not).

    Nobody else: not a plain mailbox, a Delegate, a customer-area user, another domain's
    Postmaster, nor anonymous. Staff policy: provider staff (is_staff, superusers) do NOT
    administer tenants' domains through the portals; they work in the back office, whose pages
    have their own permissions and call the services. Read from the database on every call, not
    from the passed instance: rights change (manager_set_domains, a Postmaster deactivated)."""
    return domains_for(user=actor).filter(pk=domain.pk).exists()


def is_manager_of(user: Any, domain: Domain) -> bool:
    manager = _manager_of(user)
    return manager is not None and domain.manager_id == manager.pk and domain.is_active


def domain_for(*, user: Any, name: str, manager_only: bool = False) -> Domain:
    """The domain called `name` if the user administers it. 404 otherwise (nothing leaks:
    another customer's domain and a missing one look the same); 403 for a Postmaster on a
    Manager-only page of the very domain they administer."""
    domain = domains_for(user=user).filter(name=name).first()
    if domain is None:
        raise Http404
    if manager_only and not is_manager_of(user, domain):
        raise PermissionDenied
    return domain


@dataclass(frozen=True)
class DomainSummary:
    domain: Domain
    mailboxes: int
    customer_mailboxes: int
    included: int
    archives: int
    storage_bytes: int
    is_manager: bool


def quota_usage(addresses: list[str]) -> dict[str, tuple[int, int]]:
    """Bytes and messages per address as Dovecot last reported them (one query)."""
    if not addresses:
        return {}
    return quota_usage_for(addresses)


def domain_summaries_for(*, user: Any) -> list[DomainSummary]:
    """The home page: each administered domain with mailboxes used / included, archives and storage."""
    domains = list(
        domains_for(user=user).annotate(
            n_mailboxes=Count("mailboxes", distinct=True),
            n_archives=Count("mailboxes__archive_plan", distinct=True),
        )
    )
    customer_ids = {d.customer_id for d in domains}
    per_customer = dict(
        Mailbox.objects.filter(domain__customer_id__in=customer_ids)
        .values_list("domain__customer_id")
        .annotate(n=Count("pk"))
        .values_list("domain__customer_id", "n")
    )
    included: dict[int, int] = {}
    for d in domains:
        if d.customer_id not in included:
            included[d.customer_id] = inclusion_for(d.customer.sites.all()).included_mailboxes
    addresses = list(Mailbox.objects.filter(domain__in=domains).values_list("local_part", "domain__name"))
    usage = quota_usage([f"{lp}@{dn}" for lp, dn in addresses])
    storage: dict[str, int] = {}
    for lp, dn in addresses:
        storage[dn] = storage.get(dn, 0) + usage.get(f"{lp}@{dn}", (0, 0))[0]
    manager = _manager_of(user)
    return [
        DomainSummary(
            domain=d,
            mailboxes=d.n_mailboxes,
            customer_mailboxes=per_customer.get(d.customer_id, 0),
            included=included[d.customer_id],
            archives=d.n_archives,
            storage_bytes=storage.get(d.name, 0),
            is_manager=manager is not None and d.manager_id == manager.pk,
        )
        for d in domains
    ]


def mailboxes_for(*, user: Any, domain: Domain, search: str = "", sort: str = "address") -> QuerySet[Mailbox]:
    """The mailboxes of a domain the user administers, filtered and sorted, with what the list
    shows (2FA state, archive, last login) fetched in the same query."""
    if not can_administer(actor=user, domain=domain):
        raise Http404
    totp = TOTPDevice.objects.filter(user_id=OuterRef("user_id"), confirmed=True)
    qs = (
        Mailbox.objects.filter(domain=domain)
        .select_related("domain", "user", "archive_plan")
        .annotate(has_totp=Exists(totp))
    )
    search = (search or "").strip()
    if search:
        qs = qs.filter(
            Q(local_part__icontains=search) | Q(first_name__icontains=search) | Q(last_name__icontains=search)
        )
    return qs.order_by(*MAILBOX_SORTS.get(sort, MAILBOX_SORTS["address"]))


def mailbox_for(*, user: Any, domain: Domain, pk: int) -> Mailbox:
    if not can_administer(actor=user, domain=domain):
        raise Http404
    mailbox = (
        Mailbox.objects.filter(domain=domain, pk=pk).select_related("domain", "user", "archive_plan").first()
    )
    if mailbox is None:
        raise Http404
    return mailbox


def audit_for(*, user: Any, domain: Domain) -> QuerySet[AuditEntry]:
    if not can_administer(actor=user, domain=domain):
        raise Http404
    return AuditEntry.objects.filter(domain=domain).order_by("-at", "-id")


def access_log_for(
    *,
    actor: Any,
    domain: Domain,
    login: str = "",
    protocol: str = "",
    result: str = "",
    remote_ip: str = "",
    since: date | datetime | None = None,
    until: date | datetime | None = None,
) -> QuerySet[AccessLogEntry]:
    """A domain's access log, newest first, for those who administer it (can_administer;
    PermissionDenied otherwise). Filters as accounts.selectors.access_log_rows."""
    if not can_administer(actor=actor, domain=domain):
        raise PermissionDenied
    return access_log_rows(
        domain_id=domain.pk,
        login=login,
        protocol=protocol,
        result=result,
        remote_ip=remote_ip,
        since=since,
        until=until,
    )


def delegates_for(*, user: Any) -> QuerySet[Delegate]:
    manager = _manager_of(user)
    if manager is None:
        raise PermissionDenied
    return Delegate.objects.filter(manager=manager).select_related("user").order_by("name")


def delegate_for(*, user: Any, pk: int) -> Delegate:
    delegate = delegates_for(user=user).filter(pk=pk).first()
    if delegate is None:
        raise Http404
    return delegate


def delegate_grants_on_deleted_mailboxes(*, delegate: Delegate) -> QuerySet[DelegateGrant]:
    """The grants of `delegate` (already fetched through delegate_for) whose mailbox was deleted:
    they go on reading its archive, in the domains of the Manager's active domains."""
    return delegate.grants.filter(
        mailbox__isnull=True, domain__manager_id=delegate.manager_id, domain__is_active=True
    ).order_by("address")


def manager_mailboxes(*, user: Any) -> QuerySet[Mailbox]:
    """Every mailbox of the Manager's domains (what a delegate may be granted)."""
    manager = _manager_of(user)
    if manager is None:
        raise PermissionDenied
    return (
        Mailbox.objects.filter(domain__manager=manager, domain__is_active=True)
        .select_related("domain")
        .order_by("domain__name", "local_part")
    )


def manager_for(*, user: Any) -> Manager:
    manager = _manager_of(user)
    if manager is None:
        raise PermissionDenied
    return manager


def is_active_delegate(*, user: Any) -> bool:
    """A Delegate whose access has not expired (they may use My account in the control panel)."""
    from django.utils import timezone

    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return Delegate.objects.filter(user=user, expires_on__gte=timezone.localdate()).exists()


def deleted_mailboxes_for(*, user: Any, domain: Domain) -> QuerySet[DeletedMailbox]:
    """The mailboxes of `domain` deleted in the last 15 days and not restored, newest first.
    `domain` comes from domain_for (the user administers it)."""
    from django.utils import timezone

    from mailstore.layout import DELETED_RETENTION_DAYS

    since = timezone.now() - timedelta(days=DELETED_RETENTION_DAYS)
    return DeletedMailbox.objects.filter(
        domain=domain, restored_at__isnull=True, deleted_at__gte=since
    ).order_by("-deleted_at")


def deleted_mailbox_for(*, user: Any, domain: Domain, pk: int) -> DeletedMailbox:
    """One of deleted_mailboxes_for, or 404."""
    deleted = deleted_mailboxes_for(user=user, domain=domain).filter(pk=pk).select_related("domain").first()
    if deleted is None:
        raise Http404
    return deleted


def addresses_for(*, user: Any, domain: Domain) -> QuerySet[Address]:
    """A domain's aliases, forwarders, lists and catch-all (not its mailboxes), with their
    targets, for those who administer it."""
    if not can_administer(actor=user, domain=domain):
        raise Http404
    return (
        Address.objects.filter(domain=domain)
        .exclude(kind=AddressKind.MAILBOX)
        .select_related("domain", "owner__domain")
        .prefetch_related(
            Prefetch(
                "targets", queryset=AddressTarget.objects.select_related("target__domain").order_by("pk")
            )
        )
        .order_by("local_part")
    )


def address_for(*, user: Any, domain: Domain, pk: int) -> Address:
    address = addresses_for(user=user, domain=domain).filter(pk=pk).first()
    if address is None:
        raise Http404
    return address


def address_targets_for(*, user: Any, domain: Domain) -> QuerySet[Address]:
    """What an alias or list of `domain` may deliver to: the addresses (mailboxes, aliases,
    lists, forwarders) of the same customer's domains the user administers; never a catch-all."""
    if not can_administer(actor=user, domain=domain):
        raise Http404
    return (
        Address.objects.filter(domain__in=domains_for(user=user).filter(customer_id=domain.customer_id))
        .exclude(local_part="")
        .select_related("domain")
        .order_by("domain__name", "local_part")
    )


def domain_aliases_for(*, user: Any, domain: Domain) -> QuerySet[DomainAlias]:
    if not can_administer(actor=user, domain=domain):
        raise Http404
    return DomainAlias.objects.filter(domain=domain).order_by("name")


@dataclass(frozen=True)
class GalEntry:
    """One entry of the global address list: a mailbox, or an alias or list of the domain."""

    address: str
    display_name: str
    alias: str
    first_name: str = ""
    last_name: str = ""
    company: str = ""


def global_address_list(*, mailbox: Mailbox, query: str = "") -> list[GalEntry]:
    """The global address list a mailbox's user sees: the active mailboxes of its own domain,
    then its aliases and distribution lists (not the catch-all, not forwarders), never another
    domain's; matching `query` in the address, the name or an alias's description when given."""
    query = (query or "").replace("\x00", "").strip()
    domain = mailbox.domain
    people = Mailbox.objects.filter(domain_id=domain.pk, is_active=True, domain__is_active=True)
    shared = Address.objects.filter(
        domain_id=domain.pk, domain__is_active=True, kind__in=(AddressKind.ALIAS, AddressKind.LIST)
    ).exclude(local_part="")
    if query:
        local, at, other = query.partition("@")
        if at and other and other.lower() != domain.name.lower():
            return []
        if at:
            people = people.filter(local_part__iexact=local)
            shared = shared.filter(local_part__iexact=local)
        for word in [] if at else query.split():
            people = people.filter(
                Q(local_part__icontains=word) | Q(first_name__icontains=word) | Q(last_name__icontains=word)
            )
            shared = shared.filter(Q(local_part__icontains=word) | Q(description__icontains=word))
    company = domain.brand_name or domain.customer.company_name
    entries = [
        GalEntry(
            address=f"{m.local_part}@{domain.name}",
            display_name=m.full_name or f"{m.local_part}@{domain.name}",
            alias=m.local_part,
            first_name=m.first_name,
            last_name=m.last_name,
            company=company,
        )
        for m in people.order_by("last_name", "first_name", "local_part")
    ]
    entries += [
        GalEntry(
            address=f"{a.local_part}@{domain.name}",
            display_name=a.description or f"{a.local_part}@{domain.name}",
            alias=a.local_part,
            company=company,
        )
        for a in shared.order_by("local_part")
    ]
    return entries
