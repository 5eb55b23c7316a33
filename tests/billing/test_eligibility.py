"""Issue 15 item 4: eligibility follows the sites. When a customer's sites change, the included
count, the Monitor and the back office reflect it at once; new mailboxes for a customer that is
no longer eligible are refused with a clear message; existing mailboxes keep working."""

import pytest
from django.core.exceptions import ValidationError

from domains.models import Mailbox
from domains.services import mailbox_create, site_update
from monitor.selectors import monitor_as_dict, monitor_for
from tests.backoffice import backoffice_client
from tests.factories import CustomerFactory, DomainFactory, MailboxFactory

pytestmark = pytest.mark.django_db

PASSWORD = "Eligible-Pass-2026-x"  # noqa: S105 - test data


@pytest.fixture
def customer(make_customer_user):
    customer = CustomerFactory(site__voice_channels=1, site__profile="2.0", company_name="Siti S.r.l.")
    DomainFactory(customer=customer, name="siti.test")
    customer.right_user = make_customer_user(customer, can_configure_mail=True, username="right.siti").user
    return customer


def test_a_profile_drop_refuses_new_mailboxes_keeps_the_old_and_the_monitor_follows(customer):
    domain = customer.domains.get()
    kept = MailboxFactory(domain=domain, local_part="kept")
    assert monitor_as_dict(monitor_for(user=customer.right_user))["included"] == 6
    # when the only site drops below profile 1.5
    site_update(site=customer.sites.get(), profile="1.0")
    # then new mailboxes are refused with a message that says why
    with pytest.raises(ValidationError) as exc:
        mailbox_create(domain=domain, local_part="new", password=PASSWORD)
    assert "1.5" in " ".join(exc.value.messages)
    assert not Mailbox.objects.filter(local_part="new").exists()
    # the existing mailbox keeps working, and the Monitor shows 0 included and not eligible at once
    kept.refresh_from_db()
    assert kept.is_active
    data = monitor_as_dict(monitor_for(user=customer.right_user))
    assert (data["included"], data["eligible"], data["mailboxes"]) == (0, False, 2)
    # and when a site is eligible again, mailboxes can be created again
    site_update(site=customer.sites.get(), profile="1.5", voice_channels=3)
    assert monitor_as_dict(monitor_for(user=customer.right_user))["included"] == 18
    mailbox_create(domain=domain, local_part="new", password=PASSWORD)


def test_the_back_office_lists_the_customer_as_needing_attention(customer, django_user_model, client):
    MailboxFactory(domain=customer.domains.get(), local_part="kept")
    fine = CustomerFactory(company_name="Ancora Idonea S.p.A.")
    DomainFactory(customer=fine, name="idonea.test")
    staff = django_user_model.objects.create_superuser(
        username="staff-attention",
        password="Staff-Pass-2026-x",  # noqa: S106
        email="s@x.test",
    )
    staff_client = backoffice_client(staff, "Staff-Pass-2026-x", client)
    url = "/backoffice/domains/customer/?attention=yes"
    assert "Siti S.r.l." not in staff_client.get(url).content.decode()
    site_update(site=customer.sites.get(), profile="1.0")
    page = staff_client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Siti S.r.l." in page and "Ancora Idonea" not in page
    assert "Not eligible any more" in page


def test_the_panel_create_page_says_why_a_mailbox_is_refused(customer, client):
    from domains.services import mailbox_set_password
    from tests.panel.conftest import panel_client

    domain = customer.domains.get()
    postmaster = Mailbox.objects.get(domain=domain, is_postmaster=True)
    mailbox_set_password(mailbox=postmaster, password=PASSWORD)
    site_update(site=customer.sites.get(), profile="1.0")
    response = panel_client(postmaster.user).post(
        f"/mailadmin/d/{domain.name}/new/",
        {"local_part": "late", "password": "Late-Pass-2026-xx", "quota_tier": "8"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    assert "no longer has a site with commercial profile 1.5 or higher" in response.content.decode()
    assert not Mailbox.objects.filter(local_part="late").exists()
