"""`manage.py demo_data` (run by `make run`) loads a usable demo and is harmless the second time."""

import io

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command

from billing.models import LedgerEvent, PriceList
from domains.models import Customer, CustomerUser, Domain, Mailbox, Manager

pytestmark = pytest.mark.django_db


def counts():
    return (
        Customer.objects.count(), Domain.objects.count(), Mailbox.objects.count(), Manager.objects.count(),
        CustomerUser.objects.count(), PriceList.objects.count(), LedgerEvent.objects.count(),
    )


@pytest.fixture
def development(settings):
    """`make run`: MAILSUITE_DEBUG=1 from the .env scripts/setup.sh writes (pytest-django turns
    DEBUG off for the tests themselves)."""
    settings.DEBUG = True


def test_demo_data_loads_logins_that_work_and_a_second_run_changes_nothing(development):
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


@pytest.mark.parametrize("args", [(), ("--print-only",)])
def test_demo_data_refuses_to_run_with_debug_off_and_loads_nothing(settings, args):
    # Given a production instance (DEBUG off)
    settings.DEBUG = False
    out = io.StringIO()
    # When the demo data is asked for
    with pytest.raises(CommandError, match=r"runs only in development \(MAILSUITE_DEBUG=1\)"):
        call_command("demo_data", *args, stdout=out)
    # Then no demo login exists and no demo password was printed
    assert counts() == (0, 0, 0, 0, 0, 0, 0)
    assert not get_user_model().objects.filter(username="admin").exists()
    assert "Demo-Password-2026" not in out.getvalue()
