"""Services of the webmail: the only functions that change the webmail's rows (and, through the
owning apps' services, the user's password, 2FA, app passwords and Sieve script)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import AppPassword
from accounts.services import app_password_create, app_password_revoke
from domains.models import Mailbox, Vacation
from domains.services.vacation import vacation_set as domain_vacation_set
from portalkit import rendering
from webmail.htmltext import html_to_plain
from webmail.models import Preferences, Recipient

SESSION_TOKEN_PREFIX = "webmail session"  # noqa: S105 - a name prefix, not a secret; app passwords the webmail makes for itself (hidden)


def preferences_update(*, user: Any, **changes: Any) -> Preferences:
    allowed = {"display_name", "signature", "signature_html", "page_size", "threaded"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"unknown preferences {sorted(unknown)}")
    if "signature_html" in changes:
        changes["signature_html"] = signature_html_clean(changes["signature_html"])
    with transaction.atomic():
        prefs, _created = Preferences.objects.select_for_update().get_or_create(user=user)
        for key, value in changes.items():
            setattr(prefs, key, value)
        prefs.full_clean()
        prefs.save()
    return prefs


def signature_html_clean(source: str) -> str:
    """An HTML signature through the reading sanitiser (no images: a signature has no message
    parts of its own to carry them, and remote ones are blocked by every reader)."""
    cleaned, _blocked = rendering.sanitize_html(
        (source or "").replace("\x00", ""),
        cids={},
        used_cids=set(),
        allow_remote=False,
        allow_data_images=False,
    )
    return cleaned if html_to_plain(cleaned).strip() else ""


def language_set(*, user: Any, language: str) -> None:
    if language not in dict(settings.LANGUAGES):
        raise ValidationError(_("Unknown language."))
    get_user_model().objects.filter(pk=user.pk).update(language=language)
    user.language = language


def recipients_record(*, user: Any, recipients: list[tuple[str, str]]) -> None:
    """Remember who the user wrote to (one UPSERT per address; counts with F())."""
    now = timezone.now()
    for name, address in recipients:
        address = address.strip()
        if not address:
            continue
        updated = Recipient.objects.filter(user=user, address__iexact=address).update(
            times=F("times") + 1, last_used_at=now, **({"name": name[:200]} if name else {})
        )
        if not updated:
            Recipient.objects.create(
                user=user, address=address[:254], name=(name or "")[:200], last_used_at=now
            )


def session_token_create(*, user: Any, remote_ip: str | None) -> tuple[AppPassword, str]:
    label = f"{SESSION_TOKEN_PREFIX} {timezone.localtime():%Y-%m-%d %H:%M} {remote_ip or ''}".strip()
    return app_password_create(user=user, name=label[:100], kind=AppPassword.Kind.WEBMAIL_SESSION)


def session_token_revoke(*, app_password_id: int | None, user: Any) -> None:
    if not app_password_id:
        return
    app_password = AppPassword.objects.filter(
        pk=app_password_id, user=user, kind=AppPassword.Kind.WEBMAIL_SESSION, revoked_at__isnull=True
    ).first()
    if app_password is not None:
        app_password_revoke(app_password=app_password, actor=user)


def session_tokens_purge() -> int:
    """Revoke the webmail's own tokens of sessions that expired without a logout."""
    cutoff = timezone.now() - timedelta(seconds=settings.SESSION_COOKIE_AGE)
    stale = AppPassword.objects.filter(
        kind=AppPassword.Kind.WEBMAIL_SESSION, revoked_at__isnull=True, created_at__lt=cutoff
    )
    return stale.update(revoked_at=timezone.now())


def own_password_change(*, user: Any, current: str, new: str) -> None:
    """The user's own password change: the current password is checked first."""
    from domains.services import mailbox_set_password

    if not user.check_password(current):
        raise ValidationError({"current": [_("The current password is wrong.")]})
    if current == new:
        raise ValidationError({"new": [_("Choose a password different from the current one.")]})
    mailbox = Mailbox.objects.select_related("domain", "user").get(user=user)
    mailbox_set_password(mailbox=mailbox, password=new, actor=user, must_change=False)


def twofactor_may_remove(*, user: Any) -> bool:
    mailbox = Mailbox.objects.select_related("domain").filter(user=user).first()
    return mailbox is not None and not mailbox.require_2fa and not mailbox.domain.require_2fa


def twofactor_remove(*, user: Any, password: str) -> None:
    from domains.twofactor import totp_reset

    if not twofactor_may_remove(user=user):
        raise ValidationError(_("Your domain requires two-factor authentication: it cannot be removed."))
    if not user.check_password(password):
        raise ValidationError({"password": [_("The password is wrong.")]})
    totp_reset(user, actor=user)


def vacation_set(
    *, user: Any, address: str, enabled: bool, subject: str, body: str, until: date | None
) -> Vacation:
    """The user's vacation reply, through the mailbox's own service (domains.services.vacation:
    the row and the Sieve script together; ActiveSync's Oof reads and writes the same)."""
    mailbox = Mailbox.objects.select_related("domain").get(user=user)
    return domain_vacation_set(
        mailbox=mailbox,
        actor=user,
        enabled=enabled,
        subject=subject,
        body=body,
        until=until,
        channel="webmail",
    )
