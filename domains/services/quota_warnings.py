"""Quota warnings: Dovecot reports a mailbox crossing a level of its quota (through the internal
endpoint, internal/quota.py); the user is emailed once per crossing. A domains service: it finds
the Mailbox behind a login and writes mailstore's QuotaWarning rows."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.defaultfilters import filesizeformat
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from core.portals import portal_url
from domains.models import Mailbox
from mailstore.models import QuotaOverride, QuotaUsage, QuotaWarning


def quota_warning_record(*, username: str, level: int) -> bool:
    """Dovecot reports that `username` crossed `level` percent of its quota (0: back below the
    lowest level). Emails the user once per crossing; returns True when an email was scheduled."""
    username = username.strip().lower()
    if level <= 0:
        QuotaWarning.objects.filter(username=username).delete()
        return False
    if level > 100:
        raise ValidationError({"level": [_("A quota level is a percentage.")]})
    local_part, _sep, domain = username.partition("@")
    mailbox = (
        Mailbox.objects.select_related("domain", "user")
        .filter(local_part=local_part, domain__name=domain, is_active=True)
        .first()
    )
    if mailbox is None:
        return False
    try:
        with transaction.atomic():
            QuotaWarning.objects.create(username=username, level=level)
            transaction.on_commit(lambda: _send_quota_warning(mailbox_id=mailbox.pk, level=level))
    except IntegrityError:
        return False  # already told about this level since the last time usage went below it
    return True


def _send_quota_warning(*, mailbox_id: int, level: int) -> None:
    mailbox = Mailbox.objects.select_related("domain", "user").get(pk=mailbox_id)
    usage = QuotaUsage.objects.filter(username=mailbox.address).first()
    override = QuotaOverride.objects.filter(mailbox=mailbox).values_list("bytes", flat=True).first()
    quota = override or mailbox.quota_bytes
    with translation.override(mailbox.user.language or settings.LANGUAGE_CODE):
        context = {
            "name": mailbox.full_name or mailbox.address,
            "address": mailbox.address,
            "level": level,
            "used": filesizeformat(usage.bytes if usage else quota * level // 100),
            "quota": filesizeformat(quota),
            "webmail_url": portal_url("webmail", "webmail:home"),
        }
        subject = _("Your mailbox %(address)s is %(level)s%% full") % {
            "address": mailbox.address,
            "level": level,
        }
        body = render_to_string("mailstore/email/quota_warning.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [mailbox.address])
