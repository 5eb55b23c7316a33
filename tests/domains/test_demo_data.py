"""`manage.py demo_data` (run by `make run`) loads a usable demo and is harmless the second time."""

import io

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from billing.models import LedgerEvent, PriceList
from domains.models import Customer, CustomerUser, Domain, Mailbox, Manager

pytestmark = pytest.mark.django_db


def counts():
    return (
        Customer.objects.count(), Domain.objects.count(), Mailbox.objects.count(), Manager.objects.count(),
        CustomerUser.objects.count(), PriceList.objects.count(), LedgerEvent.objects.count(),
    )


def test_demo_data_loads_logins_that_work_and_a_second_run_changes_nothing():
    out = io.StringIO()
    call_command("demo_data", stdout=out)
    first = counts()
    call_command("demo_data", stdout=io.StringIO())

    assert counts() == first
    assert first[:6] == (1, 2, 7, 1, 1, 1)
    assert Mailbox.objects.filter(is_postmaster=True).count() == 2
    manager = Manager.objects.get()
    assert sorted(manager.domains.values_list("name", flat=True)) == ["acme-group.test", "acme.test"]
    assert CustomerUser.objects.get().can_configure_mail is True
    for login in ("admin", "manager.acme", "billing.acme", "mario.rossi@acme.test", "postmaster@acme.test"):
        assert authenticate(username=login, password="Demo-Password-2026") is not None, login
    assert Mailbox.objects.get(local_part="postmaster", domain__name="acme.test").user.must_change_password
    text = out.getvalue()
    assert "/mailadmin/" in text and "/webmail/" in text and "postmaster@acme.test" in text
