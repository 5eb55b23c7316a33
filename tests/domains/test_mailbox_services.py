import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import translation

from core.models import AuditEntry
from domains.models import Mailbox, QuotaTier, SendLimitTier
from domains.services import mailbox_create, mailbox_delete, mailbox_set_password, mailbox_update
from tests.factories import MAILBOX_PASSWORD, DomainFactory, MailboxFactory

pytestmark = pytest.mark.django_db

User = get_user_model()


def counts() -> tuple[int, int]:
    return Mailbox.objects.count(), User.objects.count()


def test_create_writes_mailbox_login_and_audit_row():
    # given a domain (with its postmaster)
    domain = DomainFactory(name="acme.test")
    # when a mailbox is created
    mailbox = mailbox_create(
        domain=domain,
        local_part=" Mario.Rossi ",
        password=MAILBOX_PASSWORD,
        first_name="Mario",
        last_name="Rossi",
        quota_tier=QuotaTier.GB25,
        send_limit=SendLimitTier.L1000,
    )
    # then the address is lower-case, the login is the address, the password is Argon2
    mailbox.refresh_from_db()
    assert (mailbox.address, mailbox.quota_tier, mailbox.send_limit, mailbox.is_postmaster) == (
        "mario.rossi@acme.test",
        25,
        1000,
        False,
    )
    assert mailbox.quota_bytes == 25 * 1024**3
    assert mailbox.user.username == "mario.rossi@acme.test"
    assert mailbox.user.kind == User.Kind.MAILBOX
    assert mailbox.user.must_change_password is False
    assert mailbox.user.check_password(MAILBOX_PASSWORD) is True
    entry = AuditEntry.objects.get(action="mailbox.create")
    assert (entry.target, entry.domain_id, entry.customer_id) == (
        "mario.rossi@acme.test",
        domain.pk,
        domain.customer_id,
    )
    assert entry.after["quota_tier"] == 25


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"local_part": "a..b"}, "local_part"),
        ({"local_part": ".a"}, "local_part"),
        ({"local_part": "x" * 65}, "local_part"),
        ({"local_part": "postmaster"}, "local_part"),
        ({"password": "short"}, "password"),
        ({"password": "1234567890123"}, "password"),
        ({"quota_tier": 9}, "quota_tier"),
        ({"send_limit": 300}, "send_limit"),
    ],
)
def test_create_errors_name_the_field_and_write_nothing(kwargs, field):
    domain = DomainFactory()
    before = counts()
    args = {"domain": domain, "local_part": "mario", "password": MAILBOX_PASSWORD, **kwargs}
    with pytest.raises(ValidationError) as exc:
        mailbox_create(**args)
    assert list(exc.value.message_dict) == [field]
    assert counts() == before
    assert AuditEntry.objects.filter(action="mailbox.create").count() == 0


def test_duplicate_address_is_refused_on_local_part_and_no_login_is_left():
    domain = DomainFactory()
    MailboxFactory(domain=domain, local_part="mario")
    before = counts()
    with pytest.raises(ValidationError) as exc:
        mailbox_create(domain=domain, local_part="MARIO", password=MAILBOX_PASSWORD)
    assert list(exc.value.message_dict) == ["local_part"]
    assert counts() == before


def test_when_the_mailbox_row_fails_in_the_database_no_user_row_is_left():
    # given a login that already has the address but no mailbox (a stray row)
    domain = DomainFactory(name="acme.test")
    User.objects.create(username="orphan@acme.test", kind=User.Kind.MAILBOX)
    before = counts()
    # when a mailbox with that address is created
    with pytest.raises(ValidationError) as exc:
        mailbox_create(domain=domain, local_part="orphan", password=MAILBOX_PASSWORD)
    # then the error names local_part and nothing was added
    assert list(exc.value.message_dict) == ["local_part"]
    assert counts() == before


def test_several_errors_are_reported_together():
    domain = DomainFactory()
    with pytest.raises(ValidationError) as exc:
        mailbox_create(domain=domain, local_part="a..b", password="short", quota_tier=9)
    assert sorted(exc.value.message_dict) == ["local_part", "password", "quota_tier"]


def test_create_in_an_inactive_domain_is_refused():
    domain = DomainFactory()
    domain.is_active = False
    domain.save(update_fields=["is_active"])
    with pytest.raises(ValidationError) as exc:
        mailbox_create(domain=domain, local_part="mario", password=MAILBOX_PASSWORD)
    assert list(exc.value.message_dict) == ["domain"]


def test_delete_removes_mailbox_and_login_and_audits():
    mailbox = MailboxFactory(local_part="gone")
    address, user_pk = mailbox.address, mailbox.user_id
    mailbox_delete(mailbox=mailbox)
    assert Mailbox.objects.filter(pk=mailbox.pk).exists() is False
    assert User.objects.filter(pk=user_pk).exists() is False
    assert AuditEntry.objects.filter(action="mailbox.delete", target=address).count() == 1


def test_delete_refuses_the_postmaster():
    domain = DomainFactory()
    postmaster = Mailbox.objects.get(domain=domain, is_postmaster=True)
    before = counts()
    with pytest.raises(ValidationError) as exc:
        mailbox_delete(mailbox=postmaster)
    assert list(exc.value.message_dict) == ["local_part"]
    assert counts() == before


def test_update_changes_tiers_and_writes_before_and_after():
    mailbox = MailboxFactory()
    mailbox_update(mailbox=mailbox, quota_tier=QuotaTier.GB100, send_limit=SendLimitTier.L5000)
    mailbox.refresh_from_db()
    assert (mailbox.quota_tier, mailbox.send_limit) == (100, 5000)
    entry = AuditEntry.objects.get(action="mailbox.update")
    assert (entry.before, entry.after) == (
        {"quota_tier": 8, "send_limit": 250},
        {"quota_tier": 100, "send_limit": 5000},
    )


def test_update_deactivating_a_mailbox_deactivates_its_login():
    mailbox = MailboxFactory()
    mailbox_update(mailbox=mailbox, is_active=False)
    mailbox.refresh_from_db()
    assert (mailbox.is_active, mailbox.user.is_active) == (False, False)


def test_update_refuses_to_deactivate_the_postmaster():
    postmaster = Mailbox.objects.get(domain=DomainFactory(), is_postmaster=True)
    with pytest.raises(ValidationError) as exc:
        mailbox_update(mailbox=postmaster, is_active=False)
    assert list(exc.value.message_dict) == ["is_active"]
    postmaster.refresh_from_db()
    assert postmaster.is_active is True


def test_update_with_an_invalid_tier_names_the_field_and_changes_nothing():
    mailbox = MailboxFactory()
    with pytest.raises(ValidationError) as exc:
        mailbox_update(mailbox=mailbox, quota_tier=9)
    assert list(exc.value.message_dict) == ["quota_tier"]
    mailbox.refresh_from_db()
    assert mailbox.quota_tier == 8


def test_set_password_replaces_the_hash_and_clears_must_change():
    postmaster = Mailbox.objects.get(domain=DomainFactory(), is_postmaster=True)
    mailbox_set_password(mailbox=postmaster, password="New-Strong-Pass-2026")
    postmaster.user.refresh_from_db()
    assert postmaster.user.check_password("New-Strong-Pass-2026") is True
    assert postmaster.user.must_change_password is False


def test_set_password_refuses_a_weak_password_and_keeps_the_old_one():
    mailbox = MailboxFactory()
    with pytest.raises(ValidationError) as exc:
        mailbox_set_password(mailbox=mailbox, password="password")
    assert list(exc.value.message_dict) == ["password"]
    mailbox.user.refresh_from_db()
    assert mailbox.user.check_password(MAILBOX_PASSWORD) is True


def test_lowering_the_space_below_the_usage_is_refused_with_the_usage_shown():
    from mailstore.models import QuotaUsage

    mailbox = MailboxFactory(quota_tier=QuotaTier.GB25)
    QuotaUsage.objects.create(username=mailbox.address, bytes=9 * 1024**3, messages=120_000)
    with translation.override("it"), pytest.raises(ValidationError) as exc:
        mailbox_update(mailbox=mailbox, quota_tier=QuotaTier.GB8)
    message = exc.value.message_dict["quota_tier"][0]
    assert "9,0\xa0GB" in message and "8,0\xa0GB" in message
    mailbox.refresh_from_db()
    assert mailbox.quota_tier == 25
    assert not AuditEntry.objects.filter(action="mailbox.update").exists()


def test_lowering_the_space_above_the_usage_and_raising_it_are_allowed():
    from mailstore.models import QuotaUsage

    mailbox = MailboxFactory(quota_tier=QuotaTier.GB25)
    QuotaUsage.objects.create(username=mailbox.address, bytes=7 * 1024**3, messages=1)
    mailbox_update(mailbox=mailbox, quota_tier=QuotaTier.GB8)
    QuotaUsage.objects.filter(username=mailbox.address).update(bytes=30 * 1024**3)
    mailbox_update(mailbox=mailbox, quota_tier=QuotaTier.GB50)  # raising is never refused
    mailbox.refresh_from_db()
    assert mailbox.quota_tier == 50
