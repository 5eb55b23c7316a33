"""2FA state and TOTP enrolment (django-otp)."""

import time
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from django.core.exceptions import ValidationError
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.models import AuditEntry
from domains.models import Mailbox
from domains.services import domain_set_require_2fa, mailbox_update
from domains.twofactor import requires_2fa, totp_enrol_confirm, totp_enrol_start, totp_reset
from tests.factories import ManagerFactory

pytestmark = pytest.mark.django_db


def current_code(device: TOTPDevice) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    return f"{totp.token():0{device.digits}d}"


def test_requires_2fa_follows_device_mailbox_and_domain(mailbox):
    assert requires_2fa(mailbox.user) is False
    mailbox_update(mailbox=mailbox, require_2fa=True)
    assert requires_2fa(Mailbox.objects.get(pk=mailbox.pk).user) is True
    mailbox_update(mailbox=mailbox, require_2fa=False)
    domain_set_require_2fa(domain=mailbox.domain, required=True)
    assert requires_2fa(Mailbox.objects.get(pk=mailbox.pk).user) is True


def test_manager_without_mailbox_requires_2fa_only_with_a_confirmed_device(db):
    user = ManagerFactory().user
    TOTPDevice.objects.create(user=user, name="x", confirmed=False)
    assert requires_2fa(user) is False
    TOTPDevice.objects.create(user=user, name="y", confirmed=True)
    assert requires_2fa(user) is True


def test_enrol_start_gives_an_unconfirmed_device_uri_and_svg(mailbox):
    device, uri, svg = totp_enrol_start(mailbox.user)

    parts = urlsplit(uri)
    query = parse_qs(parts.query)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    assert unquote(parts.path) == "/example.test:mario@example.test"
    assert (query["issuer"], query["digits"], query["period"], query["algorithm"]) == (
        ["example.test"], ["6"], ["30"], ["SHA1"])
    assert len(query["secret"][0]) == 32  # 20 random bytes in base32
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert device.confirmed is False
    assert requires_2fa(mailbox.user) is False


def test_enrol_start_again_replaces_the_unconfirmed_device(mailbox):
    first, _, _ = totp_enrol_start(mailbox.user)
    second, _, _ = totp_enrol_start(mailbox.user)

    assert list(TOTPDevice.objects.filter(user=mailbox.user)) == [second]
    assert first.pk != second.pk


def test_confirm_with_the_right_code_turns_2fa_on_and_returns_10_backup_codes(mailbox):
    device, _, _ = totp_enrol_start(mailbox.user)

    codes = totp_enrol_confirm(device, current_code(device))

    assert len(codes) == 10 and len(set(codes)) == 10
    stored = StaticToken.objects.filter(device__user=mailbox.user).values_list("token", flat=True)
    assert sorted(stored) == sorted(codes)
    assert TOTPDevice.objects.get(pk=device.pk).confirmed is True
    assert requires_2fa(mailbox.user) is True
    assert AuditEntry.objects.filter(action="2fa.enable", target="mario@example.test").count() == 1


def test_confirm_with_a_wrong_code_changes_nothing(mailbox):
    device, _, _ = totp_enrol_start(mailbox.user)
    wrong = f"{(int(current_code(device)) + 500000) % 1000000:06d}"

    with pytest.raises(ValidationError):
        totp_enrol_confirm(device, wrong)

    assert TOTPDevice.objects.get(pk=device.pk).confirmed is False
    assert StaticDevice.objects.filter(user=mailbox.user).count() == 0


def test_enrol_start_is_refused_while_2fa_is_active(mailbox):
    device, _, _ = totp_enrol_start(mailbox.user)
    totp_enrol_confirm(device, current_code(device))

    with pytest.raises(ValidationError):
        totp_enrol_start(mailbox.user)


def test_reset_removes_devices_and_backup_codes_and_audits(mailbox):
    device, _, _ = totp_enrol_start(mailbox.user)
    totp_enrol_confirm(device, current_code(device))
    postmaster = Mailbox.objects.get(domain=mailbox.domain, is_postmaster=True).user

    totp_reset(mailbox.user, postmaster)

    assert TOTPDevice.objects.filter(user=mailbox.user).count() == 0
    assert StaticDevice.objects.filter(user=mailbox.user).count() == 0
    assert requires_2fa(mailbox.user) is False
    audit = AuditEntry.objects.get(action="2fa.reset")
    assert (audit.actor, audit.target, audit.domain) == (postmaster, "mario@example.test", mailbox.domain)
