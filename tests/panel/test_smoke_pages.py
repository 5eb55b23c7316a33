import pytest
from django.urls import reverse

from tests.factories import MailboxFactory

pytestmark = pytest.mark.django_db


def test_manager_sees_every_page_of_the_domain(world, manager_client, dns_server):
    # given a mailbox in the managed domain
    mailbox = MailboxFactory(domain=world.domain)
    name = world.domain.name
    urls = [
        reverse("mailadmin:home"),
        reverse("mailadmin:mailboxes", args=[name]),
        reverse("mailadmin:mailbox_create", args=[name]),
        reverse("mailadmin:mailbox", args=[name, mailbox.pk]),
        reverse("mailadmin:mailbox_delete", args=[name, mailbox.pk]),
        reverse("mailadmin:domain_security", args=[name]),
        reverse("mailadmin:domain_branding", args=[name]),
        reverse("mailadmin:domain_dns", args=[name]),
        reverse("mailadmin:audit_log", args=[name]),
        reverse("mailadmin:access_log", args=[name]),
        reverse("mailadmin:delegates"),
        reverse("mailadmin:delegate_create"),
    ]
    # when / then
    for url in urls:
        response = manager_client.get(url)
        assert response.status_code == 200, url
