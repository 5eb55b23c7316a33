import datetime
from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from core.audit import audit_record
from core.updates import UNCHANGED, Unchanged, given
from domains.models import Delegate, DelegateGrant, Mailbox, Manager
from domains.services.common import build_login, clean


def _check_grants(manager: Manager, grants: Iterable[tuple[Mailbox, str]]) -> list[tuple[Mailbox, str]]:
    grants = list(grants)
    allowed = set(manager.domains.values_list("pk", flat=True))
    outside = [m.address for m, _access in grants if m.domain_id not in allowed]
    if outside:
        raise ValidationError(
            {
                "grants": [
                    _("These mailboxes are not in your domains: %(names)s.") % {"names": ", ".join(outside)}
                ]
            }
        )
    bad = [a for _m, a in grants if a not in DelegateGrant.Access.values]
    if bad:
        raise ValidationError({"grants": [_("Unknown access level: %(value)s.") % {"value": bad[0]}]})
    return grants


def _grant(delegate: Delegate, mailbox: Mailbox, access: str) -> DelegateGrant:
    return DelegateGrant(
        delegate=delegate,
        mailbox=mailbox,
        mailbox_key=mailbox.pk,
        address=mailbox.address,
        domain_id=mailbox.domain_id,
        access=access,
    )


def delegate_create(
    *,
    manager: Manager,
    username: str,
    password: str,
    name: str,
    email: str,
    expires_on: datetime.date,
    window_start: datetime.date | None = None,
    window_end: datetime.date | None = None,
    grants: Iterable[tuple[Mailbox, str]] = (),
    actor: Any | None = None,
) -> Delegate:
    User = get_user_model()
    user = build_login(username=username, password=password, kind=User.Kind.DELEGATE, email=email)
    username = user.username
    grants = _check_grants(manager, grants)
    delegate = Delegate(
        manager=manager,
        name=name.strip(),
        email=email.strip().lower(),
        expires_on=expires_on,
        window_start=window_start,
        window_end=window_end,
    )
    clean(delegate, exclude=["user"])
    with transaction.atomic():
        user.save()
        delegate.user = user
        delegate.save()
        DelegateGrant.objects.bulk_create(_grant(delegate, m, a) for m, a in grants)
        audit_record(
            actor=actor,
            action="delegate.create",
            customer=manager.customer,
            target=delegate.name,
            after={
                "login": username,
                "expires_on": str(expires_on),
                "grants": {m.address: a for m, a in grants},
            },
        )
    return delegate


def delegate_update(
    *,
    delegate: Delegate,
    actor: Any | None = None,
    grants: Iterable[tuple[Mailbox, str]] | None = None,
    kept_grants: dict[int, str] | None = None,
    name: str | Unchanged = UNCHANGED,
    email: str | Unchanged = UNCHANGED,
    expires_on: datetime.date | None | Unchanged = UNCHANGED,
    window_start: datetime.date | None | Unchanged = UNCHANGED,
    window_end: datetime.date | None | Unchanged = UNCHANGED,
) -> Delegate:
    """Change a Delegate's data (only the fields passed) and, if given, replace its grants.
    `kept_grants` (mailbox id → access, "" to revoke) changes the grants on archives of deleted
    mailboxes, which outlive them: they can be changed or revoked, not added."""
    changes = given(
        name=name, email=email, expires_on=expires_on, window_start=window_start, window_end=window_end
    )
    with transaction.atomic():
        delegate = Delegate.objects.select_for_update().get(pk=delegate.pk)
        for field, value in changes.items():
            setattr(delegate, field, value)
        clean(delegate)
        delegate.save()
        if grants is not None:
            checked = _check_grants(delegate.manager, grants)
            # `grants` replaces the grants the panel can show: those on mailboxes of active
            # domains. A grant on a mailbox of a deactivated domain stays as it is until the
            # domain is active again (the panel cannot show it, so an edit must not drop it),
            # and so does a grant on a deleted mailbox's archive (it ends with the archive).
            delegate.grants.filter(
                Q(mailbox__domain__is_active=True) | Q(mailbox_key__in=[m.pk for m, _a in checked])
            ).delete()
            DelegateGrant.objects.bulk_create(_grant(delegate, m, a) for m, a in checked)
        revoked, changed = [], {}
        for key, access in (kept_grants or {}).items():
            grant = delegate.grants.filter(mailbox__isnull=True, mailbox_key=key).first()
            if grant is None or grant.access == access:
                continue
            if not access:
                grant.delete()
                revoked.append(grant.address)
            elif access in DelegateGrant.Access.values:
                grant.access = access
                grant.save(update_fields=["access"])
                changed[grant.address] = access
            else:
                raise ValidationError({"grants": [_("Unknown access level: %(value)s.") % {"value": access}]})
        audit_record(
            actor=actor,
            action="delegate.update",
            customer=delegate.manager.customer,
            target=delegate.name,
            after={k: str(v) for k, v in changes.items()}
            | ({"grants_revoked": revoked} if revoked else {})
            | ({"grants_changed": changed} if changed else {}),
        )
    return delegate


def delegate_delete(*, delegate: Delegate, actor: Any | None = None) -> None:
    with transaction.atomic():
        audit_record(
            actor=actor, action="delegate.delete", customer=delegate.manager.customer, target=delegate.name
        )
        user = delegate.user
        delegate.delete()
        user.delete()
