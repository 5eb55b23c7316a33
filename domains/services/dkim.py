"""DKIM keys: made at registration (or on first need), rotated from the control panel, promoted
to signing when the live DNS check sees their record, retired after a grace period.

A key signs only once its record has been seen in the DNS, the first one included: a signature
whose key a receiver cannot find would count as a failed DKIM check, worse than none."""

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.audit import audit_record
from domains import dkim, dkimkeys, dnscheck
from domains.models import DkimKey, Domain


def _create(*, domain: Domain, material: dkimkeys.NewKey) -> DkimKey:
    return DkimKey.objects.create(
        domain=domain,
        selector=dkim.new_selector(domain),
        state=DkimKey.State.PENDING,
        bits=material.bits,
        private_key=material.private_pem,
        public_key=material.public_key,
    )


def dkim_key_first(*, domain: Domain, material: dkimkeys.NewKey | None = None) -> DkimKey | None:
    """The domain's first key (pending), unless it has one already. `material` lets
    domain_register make the key before its transaction (a key takes a while to generate)."""
    if DkimKey.objects.filter(domain=domain).exists():
        return None
    material = material or dkimkeys.generate()
    try:
        with transaction.atomic():
            Domain.objects.select_for_update().filter(pk=domain.pk).first()
            if DkimKey.objects.filter(domain=domain).exists():
                return None  # made meanwhile by another request
            return _create(domain=domain, material=material)
    except IntegrityError:
        return None


def dkim_key_rotate(*, domain: Domain, actor: Any | None = None) -> DkimKey:
    """A new key, pending until its record is seen; the active one keeps signing until then."""
    material = dkimkeys.generate()
    try:
        with transaction.atomic():
            Domain.objects.select_for_update().filter(pk=domain.pk).first()
            if DkimKey.objects.filter(domain=domain, state=DkimKey.State.PENDING).exists():
                raise ValidationError(_("A new key is already waiting for its DNS record."))
            key = _create(domain=domain, material=material)
            audit_record(
                actor=actor,
                action="domain.dkim_rotate",
                domain=domain,
                target=dkim.record_name(key),
                after={"selector": key.selector, "state": key.state},
            )
    except IntegrityError as exc:
        raise ValidationError(_("A new key is already waiting for its DNS record.")) from exc
    dnscheck.forget(domain)  # the next page view lists the new key
    return key


def dkim_keys_promote(*, domain: Domain, seen: set[str], now: dt.datetime | None = None) -> DkimKey | None:
    """The pending key starts signing if its record was seen (`seen`: selectors whose record is
    correct in the DNS); the key it replaces stays published for the grace period."""
    now = now or timezone.now()
    with transaction.atomic():
        pending = (
            DkimKey.objects.select_for_update()
            .filter(domain=domain, state=DkimKey.State.PENDING, selector__in=seen)
            .first()
        )
        if pending is None:
            return None
        replaced = list(DkimKey.objects.select_for_update().filter(domain=domain, state=DkimKey.State.ACTIVE))
        DkimKey.objects.filter(pk__in=[k.pk for k in replaced]).update(
            state=DkimKey.State.RETIRING, replaced_at=now
        )
        pending.state = DkimKey.State.ACTIVE
        pending.activated_at = now
        pending.save(update_fields=["state", "activated_at"])
        audit_record(
            actor=None,
            action="domain.dkim_activate",
            domain=domain,
            target=dkim.record_name(pending),
            before={"active": [k.selector for k in replaced]},
            after={"active": pending.selector},
        )
    return pending


def dkim_keys_retire(*, now: dt.datetime | None = None) -> int:
    """Replaced keys past the grace period leave the DNS page (and may leave the DNS)."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.DKIM_RETIRE_GRACE_DAYS)
    with transaction.atomic():
        return DkimKey.objects.filter(state=DkimKey.State.RETIRING, replaced_at__lte=cutoff).update(
            state=DkimKey.State.RETIRED
        )


def domain_dns_check(*, domain: Domain, refresh: bool = False) -> dnscheck.Report:
    """The DNS page's report: the cached one unless `refresh` or none is kept; a live check also
    promotes a pending DKIM key whose record it saw. Makes the domain's first key when it has
    none (domains registered before DKIM, or with DKIM_KEYS_AT_REGISTRATION off)."""
    dkim_key_first(domain=domain)
    report = None if refresh else dnscheck.cached(domain)
    if report is None:
        report = dnscheck.run(domain)
        dkim_keys_promote(domain=domain, seen=report.seen_selectors())
        dnscheck.remember(domain, report)
    return report
