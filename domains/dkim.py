"""DKIM keys of the hosted domains, as the rest of the suite reads them.

- `active_key(domain)`: the key that signs now (None before its DNS record was first seen).
- `signing_key(domain_name)`: what a signer needs (d=, s=, the clear private key), for mta.
- `published_keys(domain)`: the keys the domain's DNS must carry (pending, active, retiring).
- `record_name(key)`, `record_value(key)`: the TXT record of a key, as the DNS page shows it.

Keys are made and change state only through domains.services.dkim; the key material is
handled by domains.dkimkeys (OpenSSL)."""

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from domains.dkimkeys import open_private_key
from domains.models import DkimKey, Domain

PUBLISHED = (DkimKey.State.PENDING, DkimKey.State.ACTIVE, DkimKey.State.RETIRING)


@dataclass(frozen=True)
class SigningKey:
    domain: str  # d=
    selector: str  # s=
    private_pem: bytes  # clear PKCS#8 PEM (kept in memory only)


def active_key(domain: Domain) -> DkimKey | None:
    return DkimKey.objects.filter(domain=domain, state=DkimKey.State.ACTIVE).first()


def signing_key(domain_name: str) -> SigningKey | None:
    """The active key of an active hosted domain named `domain_name` (ASCII, any case)."""
    key = (
        DkimKey.objects.select_related("domain")
        .filter(
            domain__name=domain_name.lower().rstrip("."), domain__is_active=True, state=DkimKey.State.ACTIVE
        )
        .first()
    )
    if key is None:
        return None
    return SigningKey(
        domain=key.domain.name, selector=key.selector, private_pem=open_private_key(key.private_key)
    )


def published_keys(domain: Domain) -> list[DkimKey]:
    """Active first, then the new one, then the replaced ones (newest first)."""
    order = {DkimKey.State.ACTIVE: 0, DkimKey.State.PENDING: 1, DkimKey.State.RETIRING: 2}
    keys = DkimKey.objects.select_related("domain").filter(domain=domain, state__in=PUBLISHED)
    return sorted(keys, key=lambda k: (order[k.state], -k.created_at.timestamp()))


def record_name(key: DkimKey) -> str:
    return f"{key.selector}._domainkey.{key.domain.name}"


def record_value(key: DkimKey) -> str:
    return f"v=DKIM1; k=rsa; p={key.public_key}"


def new_selector(domain: Domain, now: dt.datetime | None = None) -> str:
    """ms<yyyymm> (the month in Europe/Rome), then ms<yyyymm>b, c, … for more keys that month."""
    base = "ms" + timezone.localtime(now or timezone.now()).strftime("%Y%m")
    taken = set(
        DkimKey.objects.filter(domain=domain, selector__startswith=base).values_list("selector", flat=True)
    )
    if base not in taken:
        return base
    for suffix in "bcdefghijklmnopqrstuvwxyz":
        if base + suffix not in taken:
            return base + suffix
    return f"{base}-{len(taken)}"


def retire_after(key: DkimKey, grace_days: int) -> dt.datetime | None:
    """When a replaced key may leave the DNS."""
    return key.replaced_at + dt.timedelta(days=grace_days) if key.replaced_at else None
