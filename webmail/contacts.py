"""The personal address book: its services (create, change, delete, vCard import), its scoped
reads (the user's contacts, the domain's directory, the compose suggestions) and vCard export.

Every read takes the acting user (and their mailbox for the directory): a user sees only their
own contacts and only the active mailboxes of their own domain."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import vobject
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from domains.models import Mailbox
from webmail.models import Contact, Recipient, TrustedSender

VCARD_MAX_BYTES = 1024 * 1024
VCARD_MAX_CARDS = 5000
CONTACT_FIELDS = ("name", "address", "phone", "organization", "notes")


# Reads --------------------------------------------------------------------------------------


def contacts_for(*, user: Any, query: str = "") -> QuerySet[Contact]:
    query = (query or "").replace("\x00", "").strip()
    qs = Contact.objects.filter(user=user)
    if query:
        qs = qs.filter(
            Q(address__icontains=query) | Q(name__icontains=query) | Q(organization__icontains=query)
        )
    return qs.order_by("name", "address")


def contact_of(*, user: Any, pk: int) -> Contact | None:
    """The user's own contact `pk` (None for anyone else's: the view answers 404)."""
    return Contact.objects.filter(user=user, pk=pk).first()


def directory_for(*, mailbox: Mailbox, query: str = "", limit: int | None = None) -> list[tuple[str, str]]:
    """(name, address) of the active mailboxes of the user's own domain, never another's."""
    query = (query or "").replace("\x00", "").strip().lower()
    qs = Mailbox.objects.filter(domain_id=mailbox.domain_id, is_active=True, domain__is_active=True)
    if query:
        local = query.split("@", 1)[0]
        qs = qs.filter(
            Q(local_part__icontains=local) | Q(first_name__icontains=query) | Q(last_name__icontains=query)
        )
    qs = qs.order_by("last_name", "first_name", "local_part")
    if limit:
        qs = qs[:limit]
    domain = mailbox.domain.name
    return [(" ".join(p for p in (m.first_name, m.last_name) if p), f"{m.local_part}@{domain}") for m in qs]


def suggestions_for(*, user: Any, mailbox: Mailbox, query: str, limit: int = 8) -> list[dict]:
    """Compose's recipient suggestions: the user's contacts first, then the people they wrote
    to, then their domain's directory; one entry per address."""
    query = (query or "").replace("\x00", "").strip()
    if not query:
        return []  # nothing typed: no list of everyone (compose asks from the second character)
    out: list[dict] = []
    seen: set[str] = set()

    def add(name: str, address: str, source: str) -> None:
        if address.lower() not in seen and len(out) < limit:
            seen.add(address.lower())
            out.append({"name": name, "address": address, "source": source})

    for c in contacts_for(user=user, query=query)[:limit]:
        add(c.name, c.address, "contact")
    recent = Recipient.objects.filter(user=user)
    if query:
        recent = recent.filter(Q(address__icontains=query) | Q(name__icontains=query))
    for r in recent.order_by("-times", "-last_used_at")[:limit]:
        add(r.name, r.address, "recent")
    if len(out) < limit:
        seen.add(mailbox.address.lower())  # not oneself
        for name, address in directory_for(mailbox=mailbox, query=query, limit=limit + 1):
            add(name, address, "directory")
    return out


def images_trusted(*, user: Any, sender: str) -> bool:
    sender = (sender or "").strip()
    return bool(sender) and TrustedSender.objects.filter(user=user, address__iexact=sender).exists()


# Services -----------------------------------------------------------------------------------


def _clean(values: dict) -> dict:
    data = {k: str(values.get(k) or "").replace("\x00", "").strip() for k in CONTACT_FIELDS}
    data["name"] = " ".join(data["name"].split())[:200]
    data["phone"] = " ".join(data["phone"].split())[:50]
    data["organization"] = " ".join(data["organization"].split())[:200]
    data["notes"] = data["notes"][:2000]
    try:
        validate_email(data["address"])
    except ValidationError as exc:
        message = _("Not a valid address: %(list)s") % {"list": data["address"]}
        raise ValidationError({"address": [message]}) from exc
    return data


def contact_create(*, user: Any, **values: Any) -> Contact:
    data = _clean(values)
    if Contact.objects.filter(user=user, address__iexact=data["address"]).exists():
        raise ValidationError({"address": [_("This address is already in your contacts.")]})
    contact = Contact(user=user, **data)
    contact.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            contact.save()
    except IntegrityError as exc:  # the same address added at the same moment
        raise ValidationError({"address": [_("This address is already in your contacts.")]}) from exc
    return contact


def contact_update(*, contact: Contact, **values: Any) -> Contact:
    data = _clean(values)
    if (
        Contact.objects.filter(user_id=contact.user_id, address__iexact=data["address"])
        .exclude(pk=contact.pk)
        .exists()
    ):
        raise ValidationError({"address": [_("This address is already in your contacts.")]})
    for key, value in data.items():
        setattr(contact, key, value)
    contact.full_clean(validate_constraints=False)
    contact.save()
    return contact


def contact_delete(*, contact: Contact) -> None:
    contact.delete()


def trusted_sender_add(*, user: Any, address: str) -> TrustedSender:
    address = (address or "").strip()
    try:
        validate_email(address)
    except ValidationError as exc:
        raise ValidationError(_("Not a valid address: %(list)s") % {"list": address}) from exc
    existing = TrustedSender.objects.filter(user=user, address__iexact=address).first()
    return existing or TrustedSender.objects.create(user=user, address=address)


def trusted_sender_remove(*, user: Any, address: str) -> None:
    TrustedSender.objects.filter(user=user, address__iexact=(address or "").strip()).delete()


# vCard --------------------------------------------------------------------------------------


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    errors: list[str] = field(default_factory=list)  # one line per refused card, for the user


def _value(card, name: str) -> str:
    item = getattr(card, name, None)
    if item is None:
        return ""
    value = item.value
    if name == "org" and isinstance(value, list):
        value = " ".join(v for v in value if v)
    if name == "n" and not isinstance(value, str):
        value = " ".join(p for p in (value.given, value.family) if p)
    return str(value or "").strip()


def vcard_import(*, user: Any, data: bytes) -> ImportResult:
    """Add the cards of a vCard file (3.0 or 4.0) to the user's contacts; a card whose address
    is already there updates that contact. A card without a valid address is reported, not
    imported; a file that is not vCard at all, or too big, is refused as a whole."""
    if len(data) > VCARD_MAX_BYTES:
        raise ValidationError(
            _("The file is too big (at most %(mb)s MB).") % {"mb": VCARD_MAX_BYTES // (1024 * 1024)}
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    if "BEGIN:VCARD" not in text.upper():
        raise ValidationError(_("This file is not a vCard (.vcf) address book."))
    result = ImportResult()
    try:
        cards = list(vobject.readComponents(text, ignoreUnreadable=True))
    except Exception as exc:  # noqa: BLE001 - vobject raises many kinds on a broken file
        raise ValidationError(_("This file is not a vCard (.vcf) address book.")) from exc
    cards = [c for c in cards if getattr(c, "name", "").upper() == "VCARD"]
    if not cards:
        raise ValidationError(_("This file is not a vCard (.vcf) address book."))
    if len(cards) > VCARD_MAX_CARDS:
        raise ValidationError(_("The file has more than %(n)s contacts.") % {"n": VCARD_MAX_CARDS})
    for number, card in enumerate(cards, start=1):
        try:
            name = _value(card, "fn") or _value(card, "n")
        except Exception:  # noqa: BLE001
            name = ""
        label = _("Card %(n)s") % {"n": number} + (f" ({name})" if name else "")
        emails = [str(e.value).strip() for e in card.contents.get("email", []) if str(e.value).strip()]
        if not emails:
            result.errors.append(_("%(card)s: no e-mail address; not imported.") % {"card": label})
            continue
        values = {
            "name": name,
            "address": emails[0],
            "phone": next((str(t.value) for t in card.contents.get("tel", [])), ""),
            "organization": _value(card, "org"),
            "notes": _value(card, "note"),
        }
        try:
            data_ok = _clean(values)
        except ValidationError:
            result.errors.append(
                _("%(card)s: %(address)s is not a valid address; not imported.")
                % {"card": label, "address": emails[0][:100]}
            )
            continue
        existing = Contact.objects.filter(user=user, address__iexact=data_ok["address"]).first()
        if existing is not None:
            for key, value in data_ok.items():
                if value and key != "address":
                    setattr(existing, key, value)
            existing.save()
            result.updated += 1
        else:
            Contact.objects.create(user=user, **data_ok)
            result.created += 1
    return result


def vcard_export(*, user: Any) -> str:
    out = []
    for contact in contacts_for(user=user):
        card = vobject.vCard()
        card.add("fn").value = contact.name or contact.address
        parts = (contact.name or "").rsplit(" ", 1)
        card.add("n").value = vobject.vcard.Name(
            family=parts[1] if len(parts) == 2 else "", given=parts[0] if parts else ""
        )
        mail = card.add("email")
        mail.value = contact.address
        mail.type_param = "INTERNET"
        if contact.phone:
            card.add("tel").value = contact.phone
        if contact.organization:
            card.add("org").value = [contact.organization]
        if contact.notes:
            card.add("note").value = contact.notes
        out.append(card.serialize())
    return "".join(out)
