"""DKIM keys of a domain: made at registration (2048-bit RSA, private half encrypted at rest),
signing only once the live DNS check sees their record, rotated with the old key kept until the
new record is seen and for the grace period after. DNS answers come from the real test DNS
server (tests/protocol/dnsserver.py)."""

import base64
import datetime as dt
import subprocess

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from core.models import AuditEntry
from domains import dkim, dkimkeys, services
from domains.models import DkimKey
from tests.factories import DomainFactory

pytestmark = pytest.mark.django_db


def openssl(*args: str, stdin: bytes) -> bytes:
    return subprocess.run(["openssl", *args], input=stdin, capture_output=True, check=True).stdout


def publish(dns_server, key: DkimKey) -> None:
    dns_server.set(dkim.record_name(key), "TXT", dkim.record_value(key))


def this_month() -> str:
    return "ms" + timezone.localtime().strftime("%Y%m")


def test_registration_makes_a_pending_2048_bit_key_encrypted_at_rest(settings):
    # given registration keys on, at the production size
    settings.DKIM_KEYS_AT_REGISTRATION = True
    settings.DKIM_KEY_BITS = 2048
    # when a domain is registered
    domain = DomainFactory(name="keys.test")
    # then it has one key, pending (nothing signs before its record is seen), named ms<yyyymm>
    key = DkimKey.objects.get(domain=domain)
    assert (key.state, key.bits, key.selector) == ("pending", 2048, this_month())
    assert dkim.active_key(domain) is None and dkim.signing_key("keys.test") is None
    # and the private key is stored encrypted: no clear PEM in the row
    assert key.private_key.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert "BEGIN PRIVATE KEY" not in key.private_key and "BEGIN RSA" not in key.private_key
    # the suite opens it; openssl (independently) finds a 2048-bit RSA key whose public half
    # is the record's p=
    dkimkeys._opened.clear()
    clear = dkimkeys.open_private_key(key.private_key)
    assert clear.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert b"(2048 bit" in openssl("pkey", "-text", "-noout", stdin=clear)
    der = openssl("pkey", "-pubout", "-outform", "DER", stdin=clear)
    assert base64.b64encode(der).decode() == key.public_key
    assert dkim.record_value(key) == f"v=DKIM1; k=rsa; p={key.public_key}"
    assert dkim.record_name(key) == f"{this_month()}._domainkey.keys.test"
    # and another secret cannot open it
    dkimkeys._opened.clear()
    settings.DKIM_KEY_SECRET = "another secret"
    with pytest.raises(dkimkeys.DkimKeyError):
        dkimkeys.open_private_key(key.private_key)


def test_a_key_made_under_an_earlier_secret_key_still_opens_with_the_fallback(settings):
    settings.SECRET_KEY = "the old secret key of the site"
    material = dkimkeys.generate()
    settings.SECRET_KEY = "the new secret key of the site"
    settings.SECRET_KEY_FALLBACKS = ["the old secret key of the site"]
    dkimkeys._opened.clear()
    assert dkimkeys.public_key_of(material.private_pem) == material.public_key
    settings.SECRET_KEY_FALLBACKS = []
    dkimkeys._opened.clear()
    with pytest.raises(dkimkeys.DkimKeyError):
        dkimkeys.open_private_key(material.private_pem)


def test_the_first_key_is_made_on_first_need_and_signs_once_its_record_is_seen(dns_server):
    # given a domain registered without a key (keys off at registration, as for older domains)
    domain = DomainFactory(name="lazy.test")
    assert not DkimKey.objects.filter(domain=domain).exists()
    # when the DNS page's check runs, the key is made; its record is not published yet
    report = services.domain_dns_check(domain=domain)
    key = DkimKey.objects.get(domain=domain)
    assert [(c.kind, c.selector, c.status) for c in report.checks if c.kind == "DKIM"] == [
        ("DKIM", key.selector, "missing")
    ]
    assert key.state == "pending"
    # a cached report is served again without a lookup, and promotes nothing
    publish(dns_server, key)
    dns_server.queries.clear()
    assert services.domain_dns_check(domain=domain) == report
    assert dns_server.queries == []
    key.refresh_from_db()
    assert key.state == "pending"
    # when the check is refreshed with the record published, the key signs
    report = services.domain_dns_check(domain=domain, refresh=True)
    assert [c.status for c in report.checks if c.kind == "DKIM"] == ["present"]
    key.refresh_from_db()
    assert (key.state, key.activated_at is not None) == ("active", True)
    signing = dkim.signing_key("LAZY.test")
    assert (signing.domain, signing.selector) == ("lazy.test", key.selector)
    assert signing.private_pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert AuditEntry.objects.filter(domain=domain, action="domain.dkim_activate").count() == 1


def test_a_record_with_another_key_does_not_activate_the_new_one(dns_server):
    domain = DomainFactory(name="wrongkey.test")
    services.domain_dns_check(domain=domain)
    key = DkimKey.objects.get(domain=domain)
    other = dkimkeys.generate()
    dns_server.set(dkim.record_name(key), "TXT", f"v=DKIM1; k=rsa; p={other.public_key}")
    report = services.domain_dns_check(domain=domain, refresh=True)
    (row,) = [c for c in report.checks if c.kind == "DKIM"]
    assert (row.status, row.problem) == ("wrong", "dkim_other_key")
    key.refresh_from_db()
    assert key.state == "pending"


def test_rotation_keeps_the_old_key_until_the_new_record_is_seen_and_for_the_grace_period(
    dns_server, settings
):
    settings.DKIM_RETIRE_GRACE_DAYS = 7
    domain = DomainFactory(name="rotate.test")
    services.domain_dns_check(domain=domain)
    old = DkimKey.objects.get(domain=domain)
    publish(dns_server, old)
    services.domain_dns_check(domain=domain, refresh=True)
    old.refresh_from_db()
    assert old.state == "active"
    # when the key is rotated
    new = services.dkim_key_rotate(domain=domain, actor=None)
    # then the new one waits for its record (a second month's key gets the next selector) and the
    # old one keeps signing
    assert (new.state, new.selector) == ("pending", this_month() + "b")
    assert dkim.signing_key("rotate.test").selector == old.selector
    with pytest.raises(ValidationError):
        services.dkim_key_rotate(domain=domain, actor=None)
    assert DkimKey.objects.filter(domain=domain).count() == 2
    # both are published on the DNS page: the old one present, the new one missing
    report = services.domain_dns_check(domain=domain)
    assert [(c.selector, c.status) for c in report.checks if c.kind == "DKIM"] == [
        (old.selector, "present"),
        (new.selector, "missing"),
    ]
    # when the new record is seen, it signs and the old one is kept, published, for 7 days
    publish(dns_server, new)
    services.domain_dns_check(domain=domain, refresh=True)
    old.refresh_from_db()
    new.refresh_from_db()
    assert (new.state, old.state) == ("active", "retiring")
    assert dkim.signing_key("rotate.test").selector == new.selector
    assert [k.selector for k in dkim.published_keys(domain)] == [new.selector, old.selector]
    assert services.dkim_keys_retire(now=old.replaced_at + dt.timedelta(days=6)) == 0
    assert services.dkim_keys_retire(now=old.replaced_at + dt.timedelta(days=7, seconds=1)) == 1
    old.refresh_from_db()
    assert old.state == "retired"
    assert [k.selector for k in dkim.published_keys(domain)] == [new.selector]
    assert AuditEntry.objects.filter(domain=domain, action="domain.dkim_rotate").count() == 1


def test_the_periodic_check_makes_missing_keys_promotes_seen_ones_and_retires_old_ones(dns_server, settings):
    from domains.tasks import dkim_keys_check

    # given an older domain without a key, and one whose new key is now in the DNS
    older = DomainFactory(name="older.test")
    waiting = DomainFactory(name="waiting.test")
    key = services.dkim_key_first(domain=waiting)
    publish(dns_server, key)
    # when the periodic task runs
    result = dkim_keys_check()
    # then the older domain has a key (pending), the waiting one signs
    assert result == {"checked": 1, "made": 1, "retired": 0}
    assert DkimKey.objects.get(domain=older).state == "pending"
    key.refresh_from_db()
    assert key.state == "active"
