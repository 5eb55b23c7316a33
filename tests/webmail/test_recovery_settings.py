"""The webmail's recovery-address page with four clients: anonymous, a mailbox of another
customer's domain, the same customer's Manager and Postmaster (no webmail right to another
mailbox's settings), and the mailbox's own user. Nothing leaks, nothing changes but one's own.

The page touches no mail store: Django's test client through the real login, PostgreSQL."""

import re

import pytest
from django.core import mail
from django.test import Client

from accounts.models import RecoveryAddress
from domains.models import Mailbox
from domains.services import mailbox_set_password
from domains.services.recovery import recovery_address_confirm, recovery_address_set
from tests.factories import MANAGER_PASSWORD, CustomerFactory, DomainFactory, MailboxFactory, ManagerFactory

pytestmark = pytest.mark.django_db

URL = "/webmail/settings/recovery/"
PM_PASSWORD = "Postmaster-Pass-2026-x"  # noqa: S105 - test data


def signed_in(login: str, password: str) -> Client:
    client = Client()
    response = client.post("/webmail/login/", {"login": login, "password": password})
    assert response.status_code == 302 and response["Location"] == "/webmail/", response.content[:400]
    return client


@pytest.fixture
def world(settings):
    settings.LANGUAGE_CODE = "en"
    customer = CustomerFactory()
    domain = DomainFactory(customer=customer)
    owner = MailboxFactory(domain=domain)
    recovery_address_set(mailbox=owner, email="owner@personal.example")
    from django.core import signing

    from domains.services.recovery import _CONFIRM_SALT

    token = signing.dumps({"u": owner.user_id, "e": "owner@personal.example"}, salt=_CONFIRM_SALT)
    assert recovery_address_confirm(token=token) is not None
    postmaster = Mailbox.objects.get(domain=domain, is_postmaster=True)
    mailbox_set_password(mailbox=postmaster, password=PM_PASSWORD)
    manager = ManagerFactory(customer=customer, domains=[domain])
    other = MailboxFactory(domain=DomainFactory())
    mail.outbox.clear()
    return {"owner": owner, "postmaster": postmaster, "manager": manager, "other": other}


def owner_row(world):
    row = RecoveryAddress.objects.get(user=world["owner"].user)
    return (row.email, row.pending_email)


def test_anonymous_goes_to_the_login_and_changes_nothing(world):
    client = Client()
    for response in (client.get(URL), client.post(URL, {"email": "evil@attacker.example"})):
        assert response.status_code == 302 and response["Location"].startswith("/webmail/login/")
    assert owner_row(world) == ("owner@personal.example", "")
    assert mail.outbox == []


def test_another_domains_user_sees_and_changes_only_their_own(world, django_capture_on_commit_callbacks):
    client = signed_in(world["other"].address, world["other"].password_plain)
    page = client.get(URL).content.decode()
    assert "owner@personal.example" not in page and "data-recovery-none" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(URL, {"email": "other@personal.example"})
    assert response.status_code == 302
    assert owner_row(world) == ("owner@personal.example", "")
    mine = RecoveryAddress.objects.get(user=world["other"].user)
    assert (mine.email, mine.pending_email) == ("", "other@personal.example")
    assert [m.to for m in mail.outbox] == [["other@personal.example"]]


def test_same_customer_without_the_right(world):
    # the customer's Manager has no mailbox: the webmail refuses the login
    manager = world["manager"].user.username
    response = Client().post("/webmail/login/", {"login": manager, "password": MANAGER_PASSWORD})
    assert response.status_code == 403
    # the domain's Postmaster reaches only its own page, which sets nothing: its link goes to
    # the legal representative
    client = signed_in(world["postmaster"].address, PM_PASSWORD)
    page = client.get(URL).content.decode()
    assert "data-recovery-postmaster" in page and "owner@personal.example" not in page
    assert client.post(URL, {"email": "pm@personal.example"}).status_code == 403
    assert not RecoveryAddress.objects.filter(user=world["postmaster"].user).exists()
    assert owner_row(world) == ("owner@personal.example", "")
    assert mail.outbox == []


def test_the_owner_sees_changes_and_removes_their_address(world, django_capture_on_commit_callbacks):
    owner = world["owner"]
    client = signed_in(owner.address, owner.password_plain)
    page = client.get(URL).content.decode()
    assert "owner@personal.example" in page and "data-recovery-confirmed" in page
    # an address of the mailbox itself is refused with the reason
    refused = client.post(URL, {"email": f"{owner.local_part}+x@{owner.domain.name}"})
    assert refused.status_code == 400 and "outside this mailbox" in refused.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(URL, {"email": "new@personal.example"})
    assert response.status_code == 302
    assert owner_row(world) == ("owner@personal.example", "new@personal.example")
    assert [m.to for m in mail.outbox] == [["new@personal.example"]]
    link = re.search(r"/webmail/recovery/confirm/\S+/", mail.outbox[0].body).group(0)
    assert "data-recovery-pending" in client.get(URL).content.decode()
    assert Client().post(link).status_code == 200
    assert owner_row(world) == ("new@personal.example", "")
    assert client.post(URL, {"op": "remove"}).status_code == 302
    assert not RecoveryAddress.objects.filter(user=owner.user).exists()
